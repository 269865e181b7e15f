/**
 * Shared pieces of the lab's integration tests: the root check (these tests fail loudly without
 * root, never skip), a per-test lab directory, and the "nothing left behind" assertion.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsList } from '../../src/lab/netns.js';
import { isRunning, run } from '../../src/lab/exec.js';
import type { LabState } from '../../src/lab/state.js';
import { tortieCommand } from '../helpers/tortie-cmd.js';
import { REPO_ROOT } from '../../src/lab/agent.js';

export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('lab integration tests need root (network namespaces, etcd, BIRD): run them with sudo');
  }
}

/** A fresh TORTIE_LAB_DIR for one test file. */
export function freshLabDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tt-lab-state-'));
  process.env.TORTIE_LAB_DIR = dir;
  // Labs are torn down by the tests themselves; this removes the (then empty) directory.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A lab name unique to this process and test (lab names are short DNS labels). */
export function labName(tag: string): string {
  return `t${(process.pid % 100000).toString(36)}${tag}`.slice(0, 12);
}

export function assertNoNamespaces(prefix: string): void {
  const left = netnsList().filter((n) => n.startsWith(prefix));
  assert.deepEqual(left, [], `namespaces left behind: ${left.join(' ')}`);
}

/** Asserts none of the lab's recorded daemons (etcd, BIRD, agents) still run. */
export function assertNoProcesses(pids: readonly (number | undefined)[]): void {
  const alive = pids.filter((p): p is number => !!p && isRunning(p));
  assert.deepEqual(alive, [], `processes left behind: ${alive.join(' ')}`);
}

/** Every pid a lab state records. */
export function labPids(s: LabState): number[] {
  return [s.etcd?.pid, s.bird?.pid, ...s.nodes.map((n) => n.agent?.pid)].filter((p): p is number => !!p);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the tortie CLI (compiled or via tsx, see tortie-cmd.ts), optionally as user nobody.
 *
 * A checkout may live under a directory nobody cannot enter (CI clones into `mktemp -d`, mode
 * 0700), and then node could not even load the CLI. So the unprivileged run sees the checkout
 * through a bind mount on a world-traversable directory, in a private mount namespace of its own
 * (`unshare --mount`): what runs is the same build, the refusal tested is the CLI's own, and no
 * permission on the machine changes.
 */
export function tortie(args: string[], o: { asNobody?: boolean; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  const base = tortieCommand();
  const env = { ...process.env, ...o.env };
  const timeoutMs = o.timeoutMs ?? 120_000;
  if (!o.asNobody) return run([...base, ...args], { allowFailure: true, env, timeoutMs });
  const view = mkdtempSync(join(tmpdir(), 'tt-checkout-view-'));
  chmodSync(view, 0o755);
  const seen = base.map((a) => a.split(REPO_ROOT).join(view));
  const script = 'mount --bind "$1" "$2" && cd "$2" && shift 2 && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"';
  return run(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', REPO_ROOT, view, ...seen, ...args], {
    allowFailure: true,
    env,
    timeoutMs,
  }).finally(() => rmdirSync(view));
}

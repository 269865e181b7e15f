/**
 * Shared pieces of the lab's integration tests: the root check (these tests fail loudly without
 * root, never skip), a per-test lab directory, and the "nothing left behind" assertion.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsList } from '../../src/lab/netns.js';

export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('lab integration tests need root (network namespaces, etcd, BIRD): run them with sudo');
  }
}

/** A fresh TORTIE_LAB_DIR for one test file. */
export function freshLabDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tt-lab-state-'));
  process.env.TORTIE_LAB_DIR = dir;
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

/**
 * A CommandRunner around the real one that records every command the dataplane runs, with its
 * input and wall time, so a benchmark can tell the time spent in `ipset` / `iptables-restore`
 * from tortie's own, and replay exactly the same writes with the plain tool elsewhere: the
 * reference for an incremental change, which has no other plain-tool equivalent.
 */
import { performance } from 'node:perf_hooks';
import type { CommandRunner, ExecResult, StreamingCommand } from '../../src/dataplane/exec.js';

export interface RecordedCommand {
  argv: readonly string[];
  input: string;
  ms: number;
}

/** The restore tools whose input changes the kernel; everything else a pass runs only reads. */
const WRITER = /^(ipset|ip6?tables-(nft|legacy)-restore)$/;

export class RecordingRunner implements CommandRunner {
  calls: RecordedCommand[] = [];

  constructor(private readonly inner: CommandRunner) {}

  async run(argv: readonly string[], opts?: { input?: string; timeoutMs?: number }): Promise<ExecResult> {
    const t = performance.now();
    const r = await this.inner.run(argv, opts);
    this.calls.push({ argv, input: opts?.input ?? '', ms: performance.now() - t });
    return r;
  }

  start(argv: readonly string[], opts?: { timeoutMs?: number }): StreamingCommand {
    if (!this.inner.start) throw new Error('RecordingRunner: the wrapped runner cannot stream');
    const t = performance.now();
    const c = this.inner.start(argv, opts);
    const chunks: string[] = [];
    return {
      write: (data) => {
        chunks.push(data);
        return c.write(data);
      },
      end: async () => {
        const r = await c.end();
        this.calls.push({ argv, input: chunks.join(''), ms: performance.now() - t });
        return r;
      },
      kill: () => c.kill(),
    };
  }

  /** Wall time of the recorded commands, and forgets them. */
  take(): { ms: number; calls: RecordedCommand[]; writes: RecordedCommand[] } {
    const calls = this.calls;
    this.calls = [];
    return { ms: calls.reduce((a, c) => a + c.ms, 0), calls, writes: calls.filter((c) => c.input !== '' && writerArgv(c.argv) !== undefined) };
  }
}

/**
 * The plain tool's own argv inside a recorded command: what follows `ip netns exec <ns>`,
 * `flock …` and `env VAR=…` (the wrappers tortie adds for namespaces and the xtables lock), e.g.
 * `['iptables-legacy-restore', '--noflush']` or `['ipset', 'restore']`.
 */
export function writerArgv(argv: readonly string[]): string[] | undefined {
  const i = argv.findIndex((a) => WRITER.test(a));
  if (i < 0) return undefined;
  const rest = argv.slice(i);
  if (rest[0] === 'ipset' && rest[1] !== 'restore') return undefined;
  // tortie's fallback without flock adds `--wait <s>`; the plain replay runs on a private lock.
  const w = rest.indexOf('--wait');
  return w > 0 ? [...rest.slice(0, w), ...rest.slice(w + 2)] : rest;
}

/**
 * Writes through `ip -force -batch -` (and `bridge -force -batch -`): one child per apply, fed
 * all lines on stdin. With `-force` iproute2 carries on after a failed line and reports it on
 * stderr as the kernel's message followed by `Command failed -:N`, where N is the 1-based line
 * number; that is how a failed operation maps back to the object that caused it.
 *
 * One process per apply (rather than one long-lived child) because its exit is an unambiguous
 * "batch finished" signal, a wedged child is killed by the timeout without poisoning later
 * applies, and the spawn costs a few milliseconds against an apply of up to 100,000 lines
 * (docs/decisions/0001-netlink.md).
 */
import type { CommandRunner } from './exec.js';
import { ExecError } from './exec.js';

export interface BatchLineResult {
  ok: boolean;
  /** The kernel's or iproute2's message for a failed line. */
  error?: string;
}

const FAILED_LINE = /^Command failed -:(\d+)\s*$/;

/**
 * Parses -force batch stderr into per-line errors. Messages printed before a `Command failed`
 * marker belong to that line; iproute2 prints them first, then the marker.
 */
export function parseBatchErrors(stderr: string): Map<number, string> {
  const errors = new Map<number, string>();
  let pending: string[] = [];
  for (const raw of stderr.split('\n')) {
    const line = raw.trimEnd();
    if (!line) continue;
    const m = FAILED_LINE.exec(line);
    if (m) {
      errors.set(Number(m[1]), pending.join('; ') || 'failed (no message)');
      pending = [];
    } else {
      pending.push(line);
    }
  }
  return errors;
}

/**
 * Runs the lines as one batch and returns one result per line. Throws ExecError only when the
 * batch as a whole could not run (missing binary, timeout, killed): then nothing is known.
 */
export async function runBatch(runner: CommandRunner, argvPrefix: readonly string[], lines: readonly string[], timeoutMs?: number): Promise<BatchLineResult[]> {
  if (lines.length === 0) return [];
  for (const l of lines) {
    // A newline inside a line would shift every later line number and break the mapping.
    if (l.includes('\n')) throw new Error(`batch line contains a newline: ${JSON.stringify(l)}`);
  }
  const argv = [...argvPrefix, '-force', '-batch', '-'];
  const r = await runner.run(argv, { input: lines.join('\n') + '\n', timeoutMs });
  const errors = parseBatchErrors(r.stderr);
  if (r.code !== 0 && errors.size === 0) throw new ExecError(argv, `exit code ${r.code}`, r.stderr);
  return lines.map((_, i) => {
    const e = errors.get(i + 1);
    return e === undefined ? { ok: true } : { ok: false, error: e };
  });
}

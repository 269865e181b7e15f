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
import type { CommandRunner, ExecResult } from './exec.js';
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

/** One shared success value: a 100,000-line batch should not allocate 100,000 of them. */
const OK: BatchLineResult = Object.freeze({ ok: true });

/**
 * Lines per stdin write when streaming. The caller's work per chunk (working out and booking
 * the lines, ~2 µs each) runs without a break, and meanwhile the child has only what is in the
 * kernel pipe: 64 KiB, ~800 route lines, ~5 ms of `ip` work. 1024 lines keep each stretch at
 * ~2 ms, so the pipe is refilled (between chunks, see exec.ts) before it runs dry; 4096 starved
 * `ip` for ~5 ms per chunk (~150 ms per 100,000 routes).
 */
const STREAM_CHUNK_LINES = 1024;
/**
 * The first write is smaller: `ip` starts working as soon as it has something, while the caller
 * is still working out (and booking) the rest. 256 lines is ~2 ms of kernel work, and generating
 * them takes well under 1 ms.
 */
const FIRST_CHUNK_LINES = 256;

export interface BatchOptions {
  timeoutMs?: number;
  /**
   * Called after lines [from, to) were handed to the child, while it works through them: lets
   * the caller do its bookkeeping for those lines in the time it would otherwise spend waiting
   * for the pipe to drain. If the batch fails as a whole, the caller must undo what it booked.
   */
  onSent?: (from: number, to: number) => void | Promise<void>;
  /**
   * Lines not worked out yet. Called when every line so far has been handed over (or, before
   * starting, to find the first one); it makes the next lines available (so `lines.length`
   * grows) and returns false once there are no more. Lets the caller produce lines while the
   * child is already working on the first ones.
   */
  more?: () => boolean;
}

/**
 * Lines given up front, or generated on demand so generation overlaps the child's work. With
 * `BatchOptions.more`, `length` may grow while the batch runs.
 */
export type BatchLines = readonly string[] | { readonly length: number; line(i: number): string };

function lineOf(lines: BatchLines, i: number): string {
  const l = Array.isArray(lines) ? (lines as readonly string[])[i]! : (lines as { line(i: number): string }).line(i);
  // A newline inside a line would shift every later line number and break the mapping.
  if (l.includes('\n')) throw new Error(`batch line contains a newline: ${JSON.stringify(l)}`);
  return l;
}

function chunkOf(lines: BatchLines, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += lineOf(lines, i) + '\n';
  return s;
}

export async function runBatch(runner: CommandRunner, argvPrefix: readonly string[], lines: BatchLines, opts: BatchOptions = {}): Promise<BatchLineResult[]> {
  const more = opts.more;
  let exhausted = more === undefined;
  /** Asks for more lines until at least `want` are available or there are no more. */
  const fill = (want: number): void => {
    while (!exhausted && lines.length < want) exhausted = !more!();
  };
  fill(1);
  if (lines.length === 0) return [];
  const argv = [...argvPrefix, '-force', '-batch', '-'];
  let r: ExecResult;
  if (runner.start) {
    // Validate the first line before starting anything, so a bad batch fails without a child.
    lineOf(lines, 0);
    const c = runner.start(argv, { timeoutMs: opts.timeoutMs });
    try {
      let chunk = FIRST_CHUNK_LINES;
      for (let i = 0; ; ) {
        fill(i + chunk);
        const to = Math.min(lines.length, i + chunk);
        if (to === i) break;
        const written = c.write(chunkOf(lines, i, to));
        // While the pipe is full and `ip` works through it, the caller books this chunk.
        await opts.onSent?.(i, to);
        await written;
        i = to;
        chunk = STREAM_CHUNK_LINES;
      }
    } catch (e) {
      // Never leave a half-fed batch running: what it did is found by the next read-back.
      c.kill();
      throw e;
    }
    r = await c.end();
  } else {
    fill(Infinity);
    const p = runner.run(argv, { input: chunkOf(lines, 0, lines.length), timeoutMs: opts.timeoutMs });
    await opts.onSent?.(0, lines.length);
    r = await p;
  }
  const n = lines.length;
  const errors = parseBatchErrors(r.stderr);
  if (r.code !== 0 && errors.size === 0) throw new ExecError(argv, `exit code ${r.code}`, r.stderr);
  if (errors.size === 0) return new Array<BatchLineResult>(n).fill(OK);
  const out = new Array<BatchLineResult>(n);
  for (let i = 0; i < n; i++) {
    const e = errors.get(i + 1);
    out[i] = e === undefined ? OK : { ok: false, error: e };
  }
  return out;
}

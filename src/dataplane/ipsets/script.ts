/**
 * One `ipset restore` run: the script, written to the child's stdin a chunk at a time, and the
 * error it reports.
 *
 * The script is a list of segments (fixed lines, or one verb applied to a list of members) rather
 * than a list of lines: a rewrite of 100,000 members becomes text one chunk at a time with a
 * single `join` per chunk, the first chunk reaches `ipset` while the rest is still being built,
 * and a failed line number still maps back to its set and its text.
 *
 * `ipset restore` stops at the first failing line and says `Error in line N: <reason>` on
 * stderr. Lines before it are not reliably done: the tool batches adds into one netlink message,
 * and a syntax error on line 2 was seen to drop line 1's add too (ipset v7.17). Only `destroy`
 * lines, sent one command at a time, are done up to the failing one; the caller relies on that
 * for destroys only and reads the kernel back after any other failure.
 */
import type { CommandRunner, ExecResult } from '../exec.js';

type Segment =
  | { readonly set: string; readonly lines: string[] }
  | { readonly set: string; readonly prefix: string; readonly members: readonly string[]; readonly suffix: string };

/** The first write is small so `ipset` starts working while the next chunk is built. */
const FIRST_CHUNK_LINES = 256;
/**
 * Lines per later write: ~100 KiB of `add` lines, ~4 ms of kernel work for ipset (a 100,000-member
 * restore takes ~270 ms here), and ~1 ms to build, so the pipe is refilled before it runs dry.
 */
const CHUNK_LINES = 4096;

export class RestoreScript {
  private readonly segments: Segment[] = [];
  private count = 0;

  get length(): number {
    return this.count;
  }

  /** Names of the sets that have lines in the script, in order. */
  sets(): string[] {
    return [...new Set(this.segments.map((s) => s.set))];
  }

  line(set: string, text: string): this {
    const last = this.segments[this.segments.length - 1];
    if (last && 'lines' in last && last.set === set) last.lines.push(text);
    else this.segments.push({ set, lines: [text] });
    this.count++;
    return this;
  }

  /** One line `<prefix><member><suffix>` per member, e.g. prefix `add cali40x `, suffix ` -exist`. */
  members(set: string, prefix: string, members: readonly string[], suffix = ''): this {
    if (members.length === 0) return this;
    this.segments.push({ set, prefix, members, suffix });
    this.count += members.length;
    return this;
  }

  /** The set and text of 1-based line n. */
  lineAt(n: number): { set: string; text: string } | undefined {
    let first = 1;
    for (const s of this.segments) {
      const len = 'lines' in s ? s.lines.length : s.members.length;
      if (n < first + len) {
        const i = n - first;
        return { set: s.set, text: 'lines' in s ? s.lines[i]! : `${s.prefix}${s.members[i]}${s.suffix}` };
      }
      first += len;
    }
    return undefined;
  }

  /** The script as text in chunks of whole lines, each ending in a newline. */
  *chunks(firstLines = FIRST_CHUNK_LINES, lines = CHUNK_LINES): Generator<string> {
    let want = firstLines;
    let parts: string[] = [];
    let have = 0;
    for (const s of this.segments) {
      if ('lines' in s) {
        for (const l of s.lines) {
          parts.push(l, '\n');
          if (++have >= want) {
            yield parts.join('');
            parts = [];
            have = 0;
            want = lines;
          }
        }
        continue;
      }
      const sep = `${s.suffix}\n${s.prefix}`;
      for (let i = 0; i < s.members.length; ) {
        const to = Math.min(s.members.length, i + want - have);
        parts.push(s.prefix, s.members.slice(i, to).join(sep), s.suffix, '\n');
        have += to - i;
        i = to;
        if (have >= want) {
          yield parts.join('');
          parts = [];
          have = 0;
          want = lines;
        }
      }
    }
    if (parts.length > 0) yield parts.join('');
  }

  text(): string {
    return [...this.chunks(Infinity, Infinity)].join('');
  }
}

export interface RestoreOptions {
  timeoutMs?: number;
  /**
   * Called after each chunk is handed to a streaming child, while `ipset` works through it: room
   * for the caller's bookkeeping, which would otherwise wait for the exit. Kept short: the child
   * has only the pipe's 64 KiB meanwhile.
   */
  onChunk?: () => void;
}

/** Feeds the script to argv's stdin (streamed when the runner can) and waits for the exit. */
export async function runRestore(runner: CommandRunner, argv: readonly string[], script: RestoreScript, opts: RestoreOptions = {}): Promise<ExecResult> {
  const { timeoutMs, onChunk } = opts;
  if (!runner.start) return runner.run(argv, { input: script.text(), timeoutMs });
  const child = runner.start(argv, { timeoutMs });
  try {
    for (const chunk of script.chunks()) {
      const written = child.write(chunk);
      onChunk?.();
      await written;
    }
  } catch (e) {
    // Never leave a half-fed restore running; what it did is found by the next read-back.
    child.kill();
    throw e;
  }
  return child.end();
}

export interface RestoreError {
  /** 1-based line of the script, when ipset named one. */
  line?: number;
  message: string;
}

const ERROR_IN_LINE = /Error in line (\d+): (.*)/;

/** The failure `ipset restore` reported on stderr. */
export function parseRestoreError(stderr: string): RestoreError {
  const m = ERROR_IN_LINE.exec(stderr);
  if (m) return { line: Number(m[1]), message: m[2]!.trim() };
  const last = stderr.trim().split('\n').pop() ?? '';
  return { message: last.replace(/^ipset v[\d.]+: /, '') || 'failed without a message' };
}

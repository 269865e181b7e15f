/**
 * How iptables-restore and iptables-save are run: in the target namespace, with a timeout, big
 * transactions streamed into iptables-restore as they are generated, and — for the legacy backend
 * — under the xtables lock, which every legacy iptables writer on the host (kube-proxy, Docker,
 * the operator's `iptables -A`) takes around its changes. iptables-nft needs no lock (nf_tables
 * transactions are atomic in the kernel) and gets none.
 *
 * Legacy restores run as
 *   flock --verbose --wait <s> <lock file>  env XTABLES_LOCKFILE=<lock file>.tortie  <restore> --noflush
 * flock takes the real lock (waiting up to the lock timeout) and reports how long that took,
 * which is the only honest measure of lock waiting there is: iptables-restore's own `--wait` waits
 * silently. iptables-restore itself then locks a private file nobody else uses (it cannot be
 * told not to lock, and locking the real file again from a second open would wait for ourselves).
 * If flock is not installed, or iptables is too old to honour XTABLES_LOCKFILE (it then reports
 * the real lock as held, by us), restores fall back to plain `--wait <s>` on the real lock and
 * the wait goes unmeasured; the fallback is logged once.
 */
import { ExecError, inNetnsArgv, DEFAULT_EXEC_TIMEOUT_MS, type CommandRunner, type ExecResult, type StreamingCommand } from '../exec.js';
import type { Logger } from '../../util/log.js';
import type { IptablesMetrics } from './metrics.js';

/** iptables' compiled-in lock file (XT_LOCK_NAME), which XTABLES_LOCKFILE overrides. */
export const DEFAULT_XTABLES_LOCK_FILE = '/run/xtables.lock';
/**
 * Felix's default: IptablesLockTimeoutSecs is 0, and Felix then gives iptables-restore 10 s
 * (`table.go`), long enough for a kube-proxy full sync on a big node.
 */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
/** flock's exit code when the lock could not be had in time (sysexits EX_TEMPFAIL). */
const FLOCK_TIMEOUT_EXIT = 75;
/**
 * A wait longer than this means the lock was held: an uncontended flock(2) takes microseconds,
 * and the shortest critical section of another iptables writer is milliseconds.
 */
const LOCK_CONTENDED_SECS = 0.001;

const FLOCK_TOOK = /^flock: getting lock took ([0-9.]+) seconds\n?/m;
/** What iptables-legacy prints when it cannot get the lock it tried to take. */
const LOCK_HELD = /holding the xtables lock/;

export interface RestoreRunnerOptions {
  backend: 'legacy' | 'nft';
  runner: CommandRunner;
  netns?: string;
  lockFile?: string;
  lockTimeoutMs?: number;
  timeoutMs?: number;
  metrics: IptablesMetrics;
  log: Logger;
}

export interface RestoreOutcome {
  ok: boolean;
  code: number;
  stderr: string;
  /** Set when the failure is the xtables lock, not the input. */
  lockTimeout?: boolean;
  /** Whether this run held the lock through flock. */
  flocked?: boolean;
}

/**
 * Lines are joined into a chunk (and, when streaming, sent) after this many: ~350 KB, a few
 * milliseconds of iptables-restore parsing, so a streamed child never waits long for its next
 * piece. Keeping chunks rather than 100,000 separate line strings also keeps the garbage
 * collector's work small.
 */
const CHUNK_LINES = 2_048;

/** Where transaction lines are written (a RestoreTransaction, or a plain array in tests). */
export interface LineSink {
  push(line: string): unknown;
}

/**
 * One transaction being written. Its text is kept (for error messages and for a retry) as
 * chunks of joined lines; with a sink, each chunk goes to iptables-restore as soon as it is full.
 */
export class RestoreTransaction implements LineSink {
  private readonly chunks: string[] = [];
  private pending: string[] = [];
  private count = 0;
  private sent = 0;

  constructor(
    readonly binary: string,
    private readonly sink: StreamingCommand | undefined,
    readonly flocked: boolean,
  ) {}

  get streaming(): boolean {
    return this.sink !== undefined;
  }

  get lineCount(): number {
    return this.count;
  }

  push(line: string): void {
    this.pending.push(line);
    this.count++;
  }

  /** Seals a full chunk and, when streaming, hands it over; await it between chains. */
  async flushIfLarge(): Promise<void> {
    if (this.pending.length < CHUNK_LINES) return;
    this.seal();
    await this.send();
  }

  text(): string {
    this.seal();
    return this.chunks.join('');
  }

  /** The transaction's lines, for naming a failed one (only worked out on failure). */
  lines(): string[] {
    const all = this.text().split('\n');
    all.pop();
    return all;
  }

  async finish(): Promise<ExecResult> {
    this.seal();
    await this.send();
    return this.sink!.end();
  }

  kill(): void {
    if (!this.sink) return;
    this.sink.kill();
    this.sink.end().catch(() => undefined);
  }

  private seal(): void {
    if (this.pending.length === 0) return;
    this.chunks.push(this.pending.join('\n') + '\n');
    this.pending = [];
  }

  private async send(): Promise<void> {
    if (!this.sink) return;
    while (this.sent < this.chunks.length) await this.sink.write(this.chunks[this.sent++]!);
  }
}

export class RestoreRunner {
  private readonly o: RestoreRunnerOptions;
  private readonly lockFile: string;
  private readonly lockTimeoutMs: number;
  private readonly timeoutMs: number;
  /** Legacy only: take the lock with flock (measured) until that proves impossible. */
  private useFlock: boolean;

  constructor(o: RestoreRunnerOptions) {
    this.o = o;
    this.lockFile = o.lockFile ?? (process.env.XTABLES_LOCKFILE || DEFAULT_XTABLES_LOCK_FILE);
    this.lockTimeoutMs = o.lockTimeoutMs !== undefined && o.lockTimeoutMs > 0 ? o.lockTimeoutMs : DEFAULT_LOCK_TIMEOUT_MS;
    this.timeoutMs = o.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    this.useFlock = o.backend === 'legacy';
  }

  /** `<save> -t <table>`; throws ExecError on failure (counted). */
  async save(binary: string, table: string): Promise<string> {
    const argv = inNetnsArgv({ netns: this.o.netns }, [binary, '-t', table]);
    this.o.metrics.saveCalls.inc();
    let r: ExecResult;
    try {
      r = await this.o.runner.run(argv, { timeoutMs: this.timeoutMs });
    } catch (e) {
      this.o.metrics.saveErrors.inc();
      throw e;
    }
    if (r.code !== 0) {
      this.o.metrics.saveErrors.inc();
      throw new ExecError(argv, `exit code ${r.code}`, r.stderr);
    }
    return r.stdout;
  }

  /**
   * Starts a transaction. With `stream` (and a runner that can stream), iptables-restore is
   * started now and fed while the caller is still generating lines, so a 100,000-rule write
   * costs little more than iptables-restore itself; otherwise the text goes in one piece at commit.
   */
  begin(binary: string, stream: boolean): RestoreTransaction {
    if (!stream || !this.o.runner.start) return new RestoreTransaction(binary, undefined, this.useFlock);
    const flocked = this.useFlock;
    const sink = this.o.runner.start(this.argv(binary, flocked), { timeoutMs: this.timeoutMs + this.lockTimeoutMs });
    return new RestoreTransaction(binary, sink, flocked);
  }

  /** Finishes the transaction. Rejects only when iptables-restore cannot run at all. */
  async commit(tx: RestoreTransaction): Promise<RestoreOutcome> {
    if (!tx.streaming) return this.restore(tx.binary, tx.text());
    let r: ExecResult;
    try {
      r = await tx.finish();
    } catch (e) {
      if (this.flockMissing(tx.flocked, e)) return this.restore(tx.binary, tx.text());
      this.o.metrics.restoreCalls.inc();
      this.o.metrics.restoreErrors.inc();
      throw e;
    }
    return this.afterLockFallback(tx.binary, () => tx.text(), this.interpret(r, tx.flocked));
  }

  /** Drops a transaction that turned out to have nothing to write. */
  abandon(tx: RestoreTransaction): void {
    tx.kill();
  }

  /** One `iptables-restore --noflush` of `input`. Rejects only when the command cannot run. */
  async restore(binary: string, input: string): Promise<RestoreOutcome> {
    return this.afterLockFallback(binary, () => input, await this.restoreOnce(binary, input));
  }

  private afterLockFallback(binary: string, input: () => string, first: RestoreOutcome): Promise<RestoreOutcome> | RestoreOutcome {
    if (first.ok || !first.flocked || !LOCK_HELD.test(first.stderr)) return first;
    // The restore tried to lock the real file (no XTABLES_LOCKFILE support) and found it held,
    // by our own flock. Nothing was applied; go back to plain --wait for good.
    this.fallBack('this iptables ignores XTABLES_LOCKFILE');
    return this.restoreOnce(binary, input());
  }

  private flockMissing(flocked: boolean, e: unknown): boolean {
    if (!(flocked && e instanceof ExecError && e.argv[0] === 'flock' && e.reason.startsWith('cannot run'))) return false;
    this.fallBack('flock is not installed');
    return true;
  }

  private async restoreOnce(binary: string, input: string): Promise<RestoreOutcome> {
    const flocked = this.useFlock;
    let r: ExecResult;
    try {
      r = await this.o.runner.run(this.argv(binary, flocked), { input, timeoutMs: this.timeoutMs + this.lockTimeoutMs });
    } catch (e) {
      if (this.flockMissing(flocked, e)) return this.restoreOnce(binary, input);
      this.o.metrics.restoreCalls.inc();
      this.o.metrics.restoreErrors.inc();
      throw e;
    }
    return this.interpret(r, flocked);
  }

  private interpret(r: ExecResult, flocked: boolean): RestoreOutcome {
    this.o.metrics.restoreCalls.inc();
    const stderr = r.stderr;
    if (flocked) {
      // flock --verbose reports on stdout (iptables-restore --noflush prints nothing there).
      const took = FLOCK_TOOK.exec(r.stdout);
      if (took) {
        const secs = Number(took[1]);
        this.o.metrics.lockAcquireSecs.observe(secs);
        if (secs > LOCK_CONTENDED_SECS) this.o.metrics.lockRetries.inc({ version: '1.6' });
      }
      if (r.code === FLOCK_TIMEOUT_EXIT && !took) {
        this.o.metrics.restoreErrors.inc();
        return {
          ok: false,
          code: r.code,
          flocked,
          lockTimeout: true,
          stderr: `the xtables lock ${this.lockFile} was held by another process for more than ${this.lockTimeoutMs / 1000} s; nothing was written (${stderr.trim()})`,
        };
      }
    }
    if (r.code !== 0) {
      this.o.metrics.restoreErrors.inc();
      return { ok: false, code: r.code, flocked, stderr, lockTimeout: !flocked && LOCK_HELD.test(stderr) };
    }
    return { ok: true, code: 0, flocked, stderr };
  }

  private argv(binary: string, flocked: boolean): string[] {
    const t = { netns: this.o.netns };
    if (this.o.backend === 'nft') return inNetnsArgv(t, [binary, '--noflush']);
    const waitSecs = String(Math.max(1, Math.ceil(this.lockTimeoutMs / 1000)));
    if (!flocked) return inNetnsArgv(t, ['env', `XTABLES_LOCKFILE=${this.lockFile}`, binary, '--noflush', '--wait', waitSecs]);
    const flock = ['flock', '--verbose', '--wait', String(this.lockTimeoutMs / 1000), '--conflict-exit-code', String(FLOCK_TIMEOUT_EXIT), this.lockFile];
    return [...flock, ...inNetnsArgv(t, ['env', `XTABLES_LOCKFILE=${this.lockFile}.tortie`, binary, '--noflush'])];
  }

  private fallBack(why: string): void {
    if (!this.useFlock) return;
    this.useFlock = false;
    this.o.log.warn({ lockFile: this.lockFile, why }, 'xtables lock: falling back to iptables-restore --wait; lock waits will not be measured');
  }
}

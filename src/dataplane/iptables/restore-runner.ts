/**
 * How iptables-restore and iptables-save are run: in the target namespace, with a timeout, and —
 * for the legacy backend — under the xtables lock, which every legacy iptables writer on the host
 * (kube-proxy, Docker, the operator's `iptables -A`) takes around its changes. iptables-nft needs
 * no lock (nf_tables transactions are atomic in the kernel) and gets none.
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
import { ExecError, inNetnsArgv, DEFAULT_EXEC_TIMEOUT_MS, type CommandRunner, type ExecResult } from '../exec.js';
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

  /** One `iptables-restore --noflush` of `input`. Rejects only when the command cannot run. */
  async restore(binary: string, input: string): Promise<RestoreOutcome> {
    const first = await this.restoreOnce(binary, input);
    if (first.ok || !this.useFlock) return first;
    if (LOCK_HELD.test(first.stderr)) {
      // The restore tried to lock the real file (no XTABLES_LOCKFILE support) and found it held,
      // by our own flock. Nothing was applied; go back to plain --wait for good.
      this.fallBack('this iptables ignores XTABLES_LOCKFILE');
      return this.restoreOnce(binary, input);
    }
    return first;
  }

  private async restoreOnce(binary: string, input: string): Promise<RestoreOutcome> {
    const flocked = this.useFlock;
    const argv = this.argv(binary, flocked);
    let r: ExecResult;
    try {
      r = await this.o.runner.run(argv, { input, timeoutMs: this.timeoutMs + this.lockTimeoutMs });
    } catch (e) {
      if (flocked && e instanceof ExecError && e.argv[0] === 'flock' && e.reason.startsWith('cannot run')) {
        this.fallBack('flock is not installed');
        return this.restoreOnce(binary, input);
      }
      this.o.metrics.restoreCalls.inc();
      this.o.metrics.restoreErrors.inc();
      throw e;
    }
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
          lockTimeout: true,
          stderr: `the xtables lock ${this.lockFile} was held by another process for more than ${this.lockTimeoutMs / 1000} s; nothing was written (${stderr.trim()})`,
        };
      }
    }
    if (r.code !== 0) {
      this.o.metrics.restoreErrors.inc();
      return { ok: false, code: r.code, stderr, lockTimeout: !flocked && LOCK_HELD.test(stderr) };
    }
    return { ok: true, code: 0, stderr };
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

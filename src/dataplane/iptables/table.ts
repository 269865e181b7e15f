/**
 * One iptables table (filter, nat, mangle or raw) of one IP version, kept in line with what the
 * rule renderer wants — Felix's `iptables.Table` on real iptables-restore and iptables-save.
 *
 *   updateChain / removeChain / setHooks     only record what is wanted
 *   resync()                                 `<save> -t <table>`: which chains exist, the rule hashes in each
 *   applyUpdates()                           one `iptables-restore --noflush` transaction: new chains,
 *                                            changed rules, hooks
 *   applyDeletions()                         a second one, after every table's updates: chains nobody
 *                                            wants or references any more
 *
 * Ownership (never touch what we cannot recognise): chains named `cali-*` are ours, whole; in any
 * other chain only rules carrying a `cali:` hash comment are ours. Rules without one, and chains
 * with other names, are read only to count and step around.
 *
 * Desired chains go through the one generic DeltaTracker, keyed by chain name with the rule
 * hashes as value, so a chain whose kernel hashes already match costs nothing to apply: a second
 * agent on the same kernel writes nothing at all. Only chains reachable from a hook are desired
 * in the tracker (references.ts); hooks into the built-in chains are planned separately, because
 * their layout depends on how many foreign rules share the chain (hooks.ts). Changed chains are
 * rewritten only where their hashes differ (chain-diff.ts).
 *
 * iptables-restore applies a table's transaction atomically on both backends: when it rejects a
 * line nothing of the transaction is applied. A failure is logged with that line, counted, and
 * makes the next apply read the kernel back first (the table's picture may be what was wrong).
 *
 * Unlike Felix, the table is not re-read before every write of a changed chain (Felix's defence
 * against other programs' read-modify-write of iptables): a full iptables-save of 100,000 rules
 * costs 0.3–1 s. It is re-read before writing only when the hooks changed (the built-in chains
 * are the contended ones, and Felix re-reads for those too) or the last write failed. Drift made
 * by another program between two resyncs is found at the next resync (the driver's periodic
 * refresh), or by a restore that fails on it.
 */
import { CHAIN_PREFIX, MAX_CHAIN_NAME_LENGTH } from '../rules/names.js';
import { ruleTargets, type Chain, type TableName } from '../rules/chain.js';
import { chainHashes } from '../rules/hash.js';
import type { HookRules } from '../rules/restore.js';
import { DeltaTracker } from '../deltatracker.js';
import type { CommandRunner } from '../exec.js';
import type { ReconcileResult } from '../route-reconciler.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { Registry } from 'prom-client';
import type { IptablesBinaries } from './backend.js';
import { chainUpdateLines, sameHashes } from './chain-diff.js';
import { hasOurRules, hookHashes, hookedStateFromSave, layoutMatches, planHook, type HookPlan, type HookSet, type HookedChainState, type InsertMode } from './hooks.js';
import { createIptablesMetrics, type IptablesMetrics } from './metrics.js';
import { chainTargets, reachableChains } from './references.js';
import { describeRestoreFailure, formatRestoreFailure } from './restore-error.js';
import { RestoreRunner, type RestoreTransaction } from './restore-runner.js';
import { parseSave } from './save-parser.js';

export interface IptablesTableOptions {
  table: TableName;
  ipVersion: 4 | 6;
  binaries: IptablesBinaries;
  runner: CommandRunner;
  /** Tests and the lab only: run iptables inside this network namespace (via inNetnsArgv). */
  netns?: string;
  /** FELIX_CHAININSERTMODE: our hooks on top of the built-in chains (default) or after others' rules. */
  insertMode?: InsertMode;
  /** How long a legacy restore waits for the xtables lock (FELIX_IPTABLESLOCKTIMEOUTSECS); default 10 s. nft has no lock. */
  lockTimeoutMs?: number;
  /**
   * FELIX_IPTABLESLOCKPROBEINTERVALMILLIS. Accepted for configuration parity and unused: the lock
   * is waited for in the kernel (flock), not polled, and iptables 1.8 ignores `--wait-interval`.
   */
  lockProbeIntervalMs?: number;
  /** The xtables lock file; default $XTABLES_LOCKFILE or /run/xtables.lock. Tests use a private one. */
  lockFile?: string;
  log?: Logger;
  metrics?: IptablesMetrics;
  /** Limit for one iptables-save or iptables-restore, on top of any lock wait. */
  timeoutMs?: number;
}

/** A chain's tracker value: its rule hashes. */
interface ChainValue {
  readonly hashes: readonly string[];
}

/**
 * A desired chain. Its hashes are worked out when first needed: to compare with a chain the
 * kernel has, or while its lines are being streamed to iptables-restore (so for new chains that
 * work overlaps the child's).
 */
class DesiredChain implements ChainValue {
  private memo?: readonly string[];
  readonly targets: readonly string[];
  constructor(readonly chain: Chain) {
    this.targets = chainTargets(chain.rules);
  }
  get hashes(): readonly string[] {
    return (this.memo ??= chainHashes(this.chain));
  }
}

/**
 * Transactions writing at least this many rules are streamed into iptables-restore while they
 * are generated (hashing and rendering run at ~0.5 s per 100,000 rules here, next to ~0.7 s for
 * iptables-legacy-restore of them); smaller ones, a few hundred KB, are written in one go.
 */
const STREAM_MIN_RULES = 5_000;

const chainValueEq = (a: ChainValue, b: ChainValue): boolean => sameHashes(a.hashes, b.hashes);

/** The hooks as their rule hashes, to tell a real change from the same hooks set again. */
function hooksSignature(hooks: ReadonlyMap<string, HookSet>): string {
  const parts: string[] = [];
  for (const [chain, set] of [...hooks].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const h = hookHashes(chain, set);
    parts.push(`${chain}:${h.inserted.join(',')}|${h.appended.join(',')}`);
  }
  return parts.join(';');
}

export class IptablesTable {
  readonly table: TableName;
  readonly ipVersion: 4 | 6;
  private readonly binaries: IptablesBinaries;
  private readonly insertMode: InsertMode;
  private readonly log: Logger;
  private readonly metrics: IptablesMetrics;
  private readonly io: RestoreRunner;
  private readonly labels: { ip_version: string; table: string };

  private readonly desired = new Map<string, DesiredChain>();
  private hooks = new Map<string, HookSet>();
  private hookRuleCount = 0;
  private hooksSignature = '';
  /** Programmed (desired and reachable) chains vs the kernel's chains of ours. */
  private readonly tracker = new DeltaTracker<ChainValue>(chainValueEq);
  /** The desired chains currently in the tracker's desired set. */
  private programmed = new Set<string>();
  /** Desired chains updated or removed since the tracker last saw them. */
  private readonly changed = new Set<string>();
  /** Chains or hooks changed since reachability was last worked out. */
  private refsDirty = false;
  /** Kernel state of the non-owned chains we hook or hold rules in. */
  private hooked = new Map<string, HookedChainState>();
  /** False until the first read, and again after a failed write: the next apply reads first. */
  private kernelKnown = false;
  private chainCount = 0;
  private ruleCount = 0;

  constructor(opts: IptablesTableOptions) {
    this.table = opts.table;
    this.ipVersion = opts.ipVersion;
    this.binaries = opts.binaries;
    this.insertMode = opts.insertMode ?? 'insert';
    this.log = (opts.log ?? silentLogger).child({ component: 'iptables', table: opts.table, ipVersion: opts.ipVersion });
    this.metrics = opts.metrics ?? createIptablesMetrics(new Registry());
    this.labels = { ip_version: String(opts.ipVersion), table: opts.table };
    this.io = new RestoreRunner({
      backend: opts.binaries.backend,
      runner: opts.runner,
      netns: opts.netns,
      lockFile: opts.lockFile,
      lockTimeoutMs: opts.lockTimeoutMs,
      timeoutMs: opts.timeoutMs,
      metrics: this.metrics,
      log: this.log,
    });
  }

  updateChain(chain: Chain): void {
    if (!chain.name.startsWith(CHAIN_PREFIX)) throw new Error(`iptables ${this.table}: chain ${chain.name} is not ours (only ${CHAIN_PREFIX}* chains can be programmed)`);
    if (chain.name.length > MAX_CHAIN_NAME_LENGTH) throw new Error(`iptables ${this.table}: chain name ${chain.name} is longer than ${MAX_CHAIN_NAME_LENGTH} characters`);
    if (/\s/.test(chain.name)) throw new Error(`iptables ${this.table}: chain name ${JSON.stringify(chain.name)} contains whitespace`);
    this.desired.set(chain.name, new DesiredChain(chain));
    this.changed.add(chain.name);
    this.refsDirty = true;
  }

  updateChains(chains: Iterable<Chain>): void {
    for (const c of chains) this.updateChain(c);
  }

  removeChain(name: string): void {
    if (!this.desired.delete(name)) return;
    this.changed.add(name);
    this.refsDirty = true;
  }

  removeChains(names: Iterable<string>): void {
    for (const n of names) this.removeChain(n);
  }

  /** Our rules in non-owned chains; hooks for other tables are ignored. Replaces the previous set. */
  setHooks(hooks: readonly HookRules[]): void {
    const next = new Map<string, { inserts: HookSet['inserts'][number][]; appends: HookSet['appends'][number][] }>();
    let count = 0;
    for (const h of hooks) {
      if (h.table !== this.table) continue;
      if (h.chain.startsWith(CHAIN_PREFIX)) throw new Error(`iptables ${this.table}: hook into ${h.chain}, a chain of ours; hooks are for chains we do not own`);
      let set = next.get(h.chain);
      if (!set) {
        set = { inserts: [], appends: [] };
        next.set(h.chain, set);
      }
      (h.mode === 'append' ? set.appends : set.inserts).push(...h.rules);
      count += h.rules.length;
    }
    const signature = hooksSignature(next);
    // Built-in chains are shared: before changing our rules in them, look at them again.
    if (signature !== this.hooksSignature) this.kernelKnown = false;
    this.hooksSignature = signature;
    this.hooks = next;
    this.hookRuleCount = count;
    this.refsDirty = true;
  }

  async resync(): Promise<{ drifted: number }> {
    let text: string;
    try {
      text = await this.io.save(this.binaries.save(this.ipVersion), this.table);
    } catch (e) {
      this.kernelKnown = false;
      throw e;
    }
    let saved;
    try {
      saved = parseSave(text);
    } catch (e) {
      // iptables-nft could not show the table: as much a failed save as a non-zero exit.
      this.metrics.saveErrors.inc();
      this.kernelKnown = false;
      throw e;
    }
    this.fold();
    const actual = new Map<string, ChainValue>();
    const hooked = new Map<string, HookedChainState>();
    for (const c of saved.values()) {
      if (c.name.startsWith(CHAIN_PREFIX)) {
        const hashes = c.rules.map((r) => r.hash);
        // Share the desired array when they agree: equality is then one comparison, and the
        // kernel's copy (a slice of the whole save text) is not kept alive.
        const want = this.tracker.getDesired(c.name);
        actual.set(c.name, { hashes: want && sameHashes(want.hashes, hashes) ? want.hashes : hashes });
      } else {
        const s = hookedStateFromSave(c);
        if (this.hooks.has(c.name) || hasOurRules(s)) hooked.set(c.name, s);
      }
    }
    let drifted = this.tracker.replaceAllActual(actual).drifted;
    for (const name of new Set([...this.hooked.keys(), ...hooked.keys()])) {
      const set = this.hooks.get(name);
      if (layoutMatches(name, set, this.hooked.get(name), this.insertMode) && !layoutMatches(name, set, hooked.get(name), this.insertMode)) drifted++;
    }
    this.hooked = hooked;
    this.kernelKnown = true;
    if (drifted > 0) this.log.info({ drifted }, 'iptables chains changed behind our back; they will be repaired');
    return { drifted };
  }

  async applyUpdates(): Promise<ReconcileResult> {
    const read = await this.readIfUnknown();
    if (read) return read;
    this.fold();
    const updates: [string, DesiredChain][] = [];
    let size = 0;
    for (const [name, want] of this.tracker.pendingUpdates()) {
      const d = want as DesiredChain;
      updates.push([name, d]);
      size += d.chain.rules.length;
    }
    const hookPlans: [string, HookPlan][] = [];
    for (const name of new Set([...this.hooks.keys(), ...this.hooked.keys()])) {
      const plan = planHook(name, this.hooks.get(name), this.hooked.get(name), this.insertMode);
      if (plan) hookPlans.push([name, plan]);
    }
    if (updates.length === 0 && hookPlans.length === 0) {
      this.updateCounts();
      return { writes: 0, failures: 0, waiting: 0, errors: [] };
    }

    const tx = this.io.begin(this.binaries.restore(this.ipVersion), size >= STREAM_MIN_RULES);
    try {
      tx.push(`*${this.table}`);
      // Forward references for every new chain first, so any jump to one resolves.
      for (const [name] of updates) if (this.tracker.getActual(name) === undefined) tx.push(`:${name} - -`);
      for (const [name, want] of updates) {
        chainUpdateLines(want.chain, want.hashes, this.tracker.getActual(name)?.hashes, tx);
        await tx.flushIfLarge();
      }
      for (const [, plan] of hookPlans) for (const l of plan.lines) tx.push(l);
      tx.push('COMMIT');
    } catch (e) {
      this.io.abandon(tx);
      throw e;
    }
    const error = await this.finish(tx);
    if (error) return { writes: 0, failures: 1, waiting: 0, errors: [error] };
    for (const [name, want] of updates) this.tracker.setActual(name, { hashes: want.hashes });
    for (const [name, plan] of hookPlans) {
      if (plan.after.hashes.length === 0 && !this.hooks.has(name)) this.hooked.delete(name);
      else this.hooked.set(name, plan.after);
    }
    this.updateCounts();
    return { writes: tx.lineCount - 2, failures: 0, waiting: 0, errors: [] };
  }

  async applyDeletions(): Promise<ReconcileResult> {
    // Deleting needs a trustworthy picture of what still refers to what: after a failed update
    // pass, wait for the next one (which reads the kernel back) rather than guess.
    if (!this.kernelKnown) return { writes: 0, failures: 0, waiting: 0, errors: [] };
    this.fold();
    const names = [...this.tracker.pendingDeletions()].map(([name]) => name);
    if (names.length === 0) return { writes: 0, failures: 0, waiting: 0, errors: [] };
    // Flush all first, so chains that refer to each other can all go; `:name - -` flushes. (Felix
    // puts the deletions of an nft table in a transaction of their own, for iptables-nft versions
    // that counted references as at the start of a transaction; 1.8.9 needs no such split.)
    const tx = this.io.begin(this.binaries.restore(this.ipVersion), false);
    tx.push(`*${this.table}`);
    for (const n of names) tx.push(`:${n} - -`);
    for (const n of names) tx.push(`-X ${n}`);
    tx.push('COMMIT');
    const error = await this.finish(tx);
    if (error) return { writes: 0, failures: 1, waiting: 0, errors: [error] };
    for (const n of names) this.tracker.deleteActual(n);
    this.updateCounts();
    return { writes: names.length, failures: 0, waiting: 0, errors: [] };
  }

  get inSync(): boolean {
    if (!this.kernelKnown || this.refsDirty || !this.tracker.inSync) return false;
    for (const name of new Set([...this.hooks.keys(), ...this.hooked.keys()])) {
      if (!layoutMatches(name, this.hooks.get(name), this.hooked.get(name), this.insertMode)) return false;
    }
    return true;
  }

  /** Chains of ours programmed, as of the last successful apply (felix_iptables_chains). */
  get programmedChainCount(): number {
    return this.chainCount;
  }

  /** Rules of ours programmed, hooks included (felix_iptables_rules). */
  get programmedRuleCount(): number {
    return this.ruleCount;
  }

  /** Brings the tracker's desired set in line with the desired chains and what reaches them. */
  private fold(): void {
    if (!this.refsDirty) return;
    const roots: string[] = [];
    for (const set of this.hooks.values()) {
      for (const r of set.inserts) roots.push(...ruleTargets(r));
      for (const r of set.appends) roots.push(...ruleTargets(r));
    }
    const next = reachableChains(roots, (n) => this.desired.get(n)?.targets);
    for (const name of this.programmed) if (!next.has(name)) this.tracker.deleteDesired(name);
    for (const name of next) {
      if (this.programmed.has(name) && !this.changed.has(name)) continue;
      this.tracker.setDesired(name, this.desired.get(name)!);
    }
    this.programmed = next;
    this.changed.clear();
    this.refsDirty = false;
  }

  private async readIfUnknown(): Promise<ReconcileResult | undefined> {
    if (this.kernelKnown) return undefined;
    try {
      await this.resync();
      return undefined;
    } catch (e) {
      const msg = `${this.binaries.save(this.ipVersion)} -t ${this.table}: ${(e as Error).message}`;
      this.log.warn({ err: e }, 'cannot read the iptables table back; will retry');
      return { writes: 0, failures: 1, waiting: 0, errors: [msg] };
    }
  }

  /** Commits one transaction; returns an error text on failure (and forgets what the kernel holds). */
  private async finish(tx: RestoreTransaction): Promise<string | undefined> {
    let outcome;
    try {
      outcome = await this.io.commit(tx);
    } catch (e) {
      this.kernelKnown = false;
      this.log.warn({ err: e }, 'iptables-restore could not run; will read the table back and retry');
      return `${tx.binary}: ${(e as Error).message}`;
    }
    if (outcome.ok) {
      this.metrics.linesExecuted.inc(this.labels, tx.lineCount - 2);
      return undefined;
    }
    this.kernelKnown = false;
    if (outcome.lockTimeout) {
      this.log.warn({ stderr: outcome.stderr }, 'xtables lock busy; nothing was written; will retry');
      return `${tx.binary}: ${outcome.stderr}`;
    }
    const failure = describeRestoreFailure(outcome.stderr, tx.lines());
    const error = formatRestoreFailure(tx.binary, failure);
    this.log.error(
      { line: failure.lineNumber, rule: failure.line, stderr: outcome.stderr, exitCode: outcome.code, lines: tx.lineCount },
      'iptables-restore rejected the transaction; nothing of it was applied; will read the table back and retry',
    );
    return error;
  }

  private updateCounts(): void {
    let rules = this.hookRuleCount;
    for (const name of this.programmed) rules += this.desired.get(name)?.chain.rules.length ?? 0;
    this.chainCount = this.programmed.size;
    this.ruleCount = rules;
    this.metrics.chains.set(this.labels, this.chainCount);
    this.metrics.rules.set(this.labels, this.ruleCount);
  }
}

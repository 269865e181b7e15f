/**
 * The IP sets of one family (IPv4 or IPv6), reconciled on the real `ipset` tool: what the calc
 * wants against what `ipset save` shows, written with one `ipset restore` per apply.
 *
 * Two levels of desired-vs-actual, both on DeltaTracker: the sets themselves (kernel name →
 * type, family, maxelem), and each set's members (kernel text → true). The calc hands one set
 * id with members of both families; each reconciler keeps its own family's members and creates
 * the set even when none are left, because its family's rules reference it.
 *
 * How a set is written, cheapest first:
 * - missing: `create` and one `add` per member, straight into the main set (no rule can refer
 *   to a set that does not exist yet, so there is nothing to swap under);
 * - known content, few changes: `del` / `add` lines (`-exist`, so a stale belief about one
 *   member cannot fail the batch), one line per changed member;
 * - content unknown (after a failed batch, or a set re-added while the kernel still had it),
 *   maxelem changed, or more changed lines than a rewrite costs: fill `cali4t<id>`, `swap` it
 *   with the main set, destroy it. The swap is atomic for the rules that use the set.
 * - wrong type or family (or options tortie never sets): the kernel refuses to swap sets of
 *   different types, so the set is destroyed (`ipset destroy`, before the batch) and created
 *   again, as Felix does. A set still referenced by an iptables rule cannot be destroyed: that
 *   set waits (reported once, counted in `waiting`, retried after the next resync) while the
 *   rest of the batch goes ahead.
 *
 * A failed restore is one failure for the whole batch: `ipset` stops at the first bad line and
 * does not say which earlier lines it applied, so every set in the batch is marked "content
 * unknown" (a rewrite), a resync is due (the next applyUpdates does it first, and a read-back of
 * the exact content turns the rewrite back into deltas), and the set of the failing line goes
 * last in the next batch so that it cannot hold the others back.
 *
 * Owned: names with this family's prefixes (names.ts); nothing else is read or touched. A
 * restart finds sets that already match and writes nothing. Not reentrant: the dataplane's one
 * apply loop calls resync, applyUpdates and applyDeletions in turn.
 */
import { DeltaTracker } from '../deltatracker.js';
import { ExecError, inNetnsArgv, runChecked, type CommandRunner } from '../exec.js';
import type { ReconcileResult } from '../route-reconciler.js';
import type { IpSetType, IpVersion } from '../../proto/policy.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { canonicalMember, memberIpVersion, WHOLE_SPACE } from './members.js';
import type { IpSetsMetrics } from './metrics.js';
import { DEFAULT_MAX_IPSET_SIZE, KERNEL_TYPE, checkSetId, familyName, ipSetName, ownedPrefixes, tempIpSetName } from './names.js';
import { parseSave, type KernelSetMeta } from './save.js';
import { RestoreScript, parseRestoreError, runRestore } from './script.js';

export type { IpSetsMetrics } from './metrics.js';

export interface IpSetsOptions {
  runner: CommandRunner;
  ipVersion: IpVersion;
  /** Tests/lab only: run inside this named netns via inNetnsArgv from exec.ts. The agent leaves it unset. */
  netns?: string;
  /** `maxelem` of every set (Felix MaxIpsetSize); default 1048576. */
  maxSize?: number;
  log?: Logger;
  metrics?: IpSetsMetrics;
  /** Per ipset command; default the runner's own (DEFAULT_EXEC_TIMEOUT_MS). */
  timeoutMs?: number;
}

/**
 * A rewrite costs its members plus `create` temp, `swap` and `destroy` temp: deltas are used
 * while they are no more lines than that, i.e. whichever restore text is shorter.
 */
const REWRITE_OVERHEAD_LINES = 3;

/**
 * Booking a write into the trackers is done in slices of this many member operations, between
 * the chunks a streaming restore writes: ~0.3 ms each, so the child never waits on us long,
 * and a 100,000-member rewrite is booked (~50 ms) while ipset works (~250 ms), not after it.
 */
const BOOK_SLICE = 1024;
/** Slices per chunk written: 12 × 1024 operations against ~4096 lines of ipset work (~10 ms). */
const BOOK_SLICES_PER_CHUNK = 12;

const IN_USE = /in use/i;
const NOT_FOUND = /does not exist/i;

const metaEqual = (a: KernelSetMeta, b: KernelSetMeta): boolean => a.type === b.type && a.family === b.family && a.maxelem === b.maxelem && a.extra === b.extra;
/** `ipset swap` works between these (only maxelem differs). */
const swappable = (a: KernelSetMeta, b: KernelSetMeta): boolean => a.type === b.type && a.family === b.family && a.extra === b.extra;
const same = (): boolean => true;

interface SetState {
  readonly id: string;
  readonly name: string;
  readonly temp: string;
  readonly type: IpSetType;
  readonly meta: KernelSetMeta;
  readonly members: DeltaTracker<true>;
  /** hash:net only: the /0 is wanted (held as its two /1 halves, which hash:net can store). */
  whole: boolean;
  /** hash:net only: the halves that are also wanted in their own right (kept when the /0 goes). */
  ownHalves: Set<string> | undefined;
}

export class IpSets {
  private readonly runner: CommandRunner;
  private readonly v: IpVersion;
  private readonly netns: string | undefined;
  private readonly maxSize: number;
  private readonly log: Logger;
  private readonly metrics: IpSetsMetrics | undefined;
  private readonly timeoutMs: number | undefined;
  private readonly prefixes: readonly [string, string];

  private readonly sets = new Map<string, SetState>();
  private readonly byName = new Map<string, SetState>();
  /** Set level: desired main sets; actual = every owned set the kernel has (temporaries too). */
  private readonly kernel = new DeltaTracker<KernelSetMeta>(metaEqual);
  /** Ids with (possibly) something to write. */
  private readonly dirty = new Set<string>();
  /** Names whose kernel members are not known: written by rewrite unless a resync reads them. */
  private readonly unknown = new Set<string>();
  /** Names whose line failed the last batch: written last. */
  private readonly suspects = new Set<string>();
  /** Names that could not be destroyed because they are in use: retried after the next resync. */
  private readonly parked = new Set<string>();
  /** Names whose type change waits for a destroy that failed because the set is in use. */
  private readonly blocked = new Set<string>();
  /** Names whose "in use" has been reported, so it is reported once, not every apply. */
  private readonly reported = new Set<string>();
  private needsResync = true;
  private resyncedOnce = false;
  private busy = false;

  constructor(opts: IpSetsOptions) {
    this.runner = opts.runner;
    this.v = opts.ipVersion;
    this.netns = opts.netns;
    this.maxSize = opts.maxSize ?? DEFAULT_MAX_IPSET_SIZE;
    if (!Number.isInteger(this.maxSize) || this.maxSize < 1) throw new Error(`IP set maxSize must be a positive integer, got ${opts.maxSize}`);
    this.metrics = opts.metrics;
    this.timeoutMs = opts.timeoutMs;
    this.prefixes = ownedPrefixes(this.v);
    this.log = (opts.log ?? silentLogger).child({ component: 'ipsets', family: familyName(this.v) });
  }

  /** Whole desired content of a set (creates it or replaces its members). Throws (synchronously) on invalid id/member/type: caller counts & logs. */
  setDesired(id: string, type: IpSetType, members: Iterable<string>): void {
    checkSetId(id);
    if (!Object.hasOwn(KERNEL_TYPE, type)) throw new Error(`IP set ${id}: unknown type ${JSON.stringify(type)}`);
    const name = ipSetName(id, this.v);
    const other = this.byName.get(name);
    if (other && other.id !== id) throw new Error(`IP set ids ${JSON.stringify(other.id)} and ${JSON.stringify(id)} both become ${name} (names are cut to 31 characters)`);
    // Canonicalise everything before changing anything: a bad member leaves the set as it was.
    const ws = WHOLE_SPACE[this.v];
    const desired = new Map<string, true>();
    let whole = false;
    let ownHalves: Set<string> | undefined;
    for (const m of members) {
      if (memberIpVersion(type, m) !== this.v) continue;
      const c = canonicalMember(type, m);
      if (type === 'net') {
        if (c === ws.whole) {
          whole = true;
          continue;
        }
        if (c === ws.halves[0] || c === ws.halves[1]) (ownHalves ??= new Set()).add(c);
      }
      desired.set(c, true);
    }
    if (whole) for (const h of ws.halves) desired.set(h, true);
    let s = this.sets.get(id);
    if (!s || s.type !== type) {
      // New, or a new type: the kernel's members (if any) are nothing to diff against.
      s = {
        id,
        name,
        temp: tempIpSetName(id, this.v),
        type,
        meta: { type: KERNEL_TYPE[type], family: familyName(this.v), maxelem: this.maxSize, extra: '' },
        members: new DeltaTracker<true>(same),
        whole: false,
        ownHalves: undefined,
      };
      this.sets.set(id, s);
      this.byName.set(name, s);
      this.kernel.setDesired(name, s.meta);
      if (this.kernel.getActual(name)) this.unknown.add(name);
    }
    s.whole = whole;
    s.ownHalves = ownHalves;
    s.members.replaceAllDesired(desired);
    this.dirty.add(id);
  }

  /** Membership delta for a set already desired; members of the other family are ignored. */
  addMembers(id: string, members: Iterable<string>): void {
    const s = this.mustGet(id);
    const add = this.canonicalAll(s, members);
    for (const c of add) this.addOne(s, c);
    if (add.length > 0) this.dirty.add(id);
  }

  removeMembers(id: string, members: Iterable<string>): void {
    const s = this.mustGet(id);
    const del = this.canonicalAll(s, members);
    for (const c of del) this.removeOne(s, c);
    if (del.length > 0) this.dirty.add(id);
  }

  /** No longer desired: destroyed in applyDeletions. */
  remove(id: string): void {
    const s = this.sets.get(id);
    if (!s) return;
    this.sets.delete(id);
    this.byName.delete(s.name);
    this.kernel.deleteDesired(s.name);
    this.dirty.delete(id);
    this.unknown.delete(s.name);
    this.blocked.delete(s.name);
  }

  /** Whether a set is desired for this family (the iptables renderer needs it to exist before rules reference it). */
  isDesired(id: string): boolean {
    return this.sets.has(id);
  }

  /** Nothing pending and last resync/apply succeeded. */
  get inSync(): boolean {
    if (this.needsResync) return false;
    for (const id of this.dirty) {
      const s = this.sets.get(id);
      if (s && this.hasWork(s)) return false;
    }
    for (const [name] of this.kernel.pendingDeletions()) if (!this.parked.has(name)) return false;
    return true;
  }

  /** For felix_ipsets_calico. */
  get desiredCount(): number {
    return this.sets.size;
  }

  /**
   * Reads the kernel back (one `ipset save` for all sets; only this family's prefixes are parsed),
   * marks drift (missing set, wrong type, missing/extra members) to be repaired in the next
   * applyUpdates. `drifted` counts sets that were in sync before and are not now (and owned sets
   * that appeared since the last resync). Throws ExecError if `ipset save` fails.
   */
  async resync(): Promise<{ drifted: number }> {
    this.enter();
    try {
      return await this.readBack();
    } finally {
      this.busy = false;
    }
  }

  /**
   * One `ipset restore` for everything pending (see the module comment for how each set is
   * written). Resyncs first if a resync is due (never resynced, or the last write failed).
   */
  async applyUpdates(): Promise<ReconcileResult> {
    this.enter();
    const result: ReconcileResult = { writes: 0, failures: 0, waiting: 0, errors: [] };
    try {
      if (this.needsResync) {
        try {
          await this.readBack();
        } catch (e) {
          result.failures++;
          result.errors.push(`cannot read IP sets back: ${(e as Error).message}`);
          return result;
        }
      }
      const work: SetState[] = [];
      for (const id of this.dirty) {
        const s = this.sets.get(id);
        if (s && this.hasWork(s)) work.push(s);
        else this.dirty.delete(id);
      }
      if (work.length === 0) return result;
      // Sets that failed the last batch go last, so a persistent problem cannot block the rest.
      work.sort((a, b) => Number(this.suspects.has(a.name)) - Number(this.suspects.has(b.name)));
      for (const s of work) {
        const k = this.kernel.getActual(s.name);
        if (k && !swappable(k, s.meta)) await this.destroyForTypeChange(s, k, result);
      }
      const script = new RestoreScript();
      const book: Iterator<void>[] = [];
      for (const s of work) this.plan(s, script, book, result);
      if (script.length === 0) return result;
      await this.runBatch(script, book, result);
      for (const s of work) if (!this.hasWork(s)) this.dirty.delete(s.id);
      return result;
    } finally {
      this.metrics?.calico.labels(familyName(this.v)).set(this.sets.size);
      this.busy = false;
    }
  }

  /**
   * Destroys sets no longer desired and leftover owned sets found by resync (temporaries left by
   * a crash too). Runs after iptables deletions. A set still in use (a rule refers to it) is
   * reported once, counted in `waiting` and retried after the next resync; it does not hold
   * `inSync` false, since nothing is wrong with the sets that are wanted.
   */
  async applyDeletions(): Promise<ReconcileResult> {
    this.enter();
    const result: ReconcileResult = { writes: 0, failures: 0, waiting: 0, errors: [] };
    try {
      const names: string[] = [];
      for (const [name] of this.kernel.pendingDeletions()) if (!this.parked.has(name)) names.push(name);
      let i = 0;
      while (i < names.length) {
        const script = new RestoreScript();
        for (let j = i; j < names.length; j++) script.line(names[j]!, `destroy ${names[j]}`);
        const r = await this.exec(() => runRestore(this.runner, this.argv('restore'), script, { timeoutMs: this.timeoutMs }), result);
        if (!r) {
          this.needsResync = true;
          break;
        }
        if (r.code === 0) {
          for (let j = i; j < names.length; j++) this.destroyed(names[j]!, result);
          break;
        }
        this.metrics?.errors.inc();
        const e = parseRestoreError(r.stderr);
        if (e.line === undefined || e.line < 1 || e.line > script.length) {
          result.failures++;
          result.errors.push(`ipset restore (destroy) failed: ${e.message}`);
          this.needsResync = true;
          break;
        }
        // Destroys are sent one by one: the lines before the failing one were carried out.
        const failed = i + e.line - 1;
        for (let j = i; j < failed; j++) this.destroyed(names[j]!, result);
        const name = names[failed]!;
        if (NOT_FOUND.test(e.message)) {
          this.destroyed(name, result);
        } else if (IN_USE.test(e.message)) {
          this.parked.add(name);
          result.waiting++;
          this.reportInUse(name, result, `cannot destroy IP set ${name}: it is still referenced (by an iptables rule?); will retry after the next resync`);
        } else {
          result.failures++;
          result.errors.push(`cannot destroy IP set ${name}: ${e.message}`);
          this.needsResync = true;
          break;
        }
        i = failed + 1;
      }
      if (result.failures > 0) this.log.warn({ errors: result.errors }, 'some IP sets could not be destroyed; will read the kernel back and retry');
      return result;
    } finally {
      this.metrics?.calico.labels(familyName(this.v)).set(this.sets.size);
      this.busy = false;
    }
  }

  // --- reading back ---

  private async readBack(): Promise<{ drifted: number }> {
    this.metrics?.calls.inc();
    let out: string;
    try {
      out = await runChecked(this.runner, this.argv('save'), { timeoutMs: this.timeoutMs });
    } catch (e) {
      this.metrics?.errors.inc();
      this.needsResync = true;
      throw e;
    }
    const [main, temp] = this.prefixes;
    const dump = parseSave(out, (n) => n.startsWith(main) || n.startsWith(temp));
    let drifted = 0;
    for (const s of this.sets.values()) {
      const before = this.kernel.getActual(s.name);
      const k = dump.owned.get(s.name);
      const wasRight = before !== undefined && metaEqual(before, s.meta);
      const isRight = k !== undefined && metaEqual(k.meta, s.meta);
      // Members of a set of another type are nothing to diff against: it is recreated empty.
      const memberDrift = s.members.replaceAllActual(k && swappable(k.meta, s.meta) ? k.members : new Map()).drifted;
      if ((wasRight && !isRight) || memberDrift > 0) drifted++;
      if (this.hasWorkAfter(s, k?.meta)) this.dirty.add(s.id);
    }
    if (this.resyncedOnce) {
      for (const name of dump.owned.keys()) if (!this.byName.has(name) && this.kernel.getActual(name) === undefined) drifted++;
    }
    const metas = new Map<string, KernelSetMeta>();
    for (const [name, k] of dump.owned) metas.set(name, k.meta);
    this.kernel.replaceAllActual(metas);
    // What was unknown is known now; what could not be destroyed is tried again.
    this.unknown.clear();
    this.parked.clear();
    this.blocked.clear();
    this.needsResync = false;
    this.resyncedOnce = true;
    this.metrics?.total.set(dump.total);
    this.metrics?.calico.labels(familyName(this.v)).set(this.sets.size);
    // Sets already reported as held by a rule are not announced again every resync.
    let leftovers = 0;
    for (const [name] of this.kernel.pendingDeletions()) if (!this.reported.has(name)) leftovers++;
    if (drifted > 0) this.log.warn({ drifted }, 'IP sets changed behind our back; repairing them in the next apply');
    if (leftovers > 0) this.log.info({ leftovers }, 'found IP sets of ours that are no longer wanted; destroying them');
    return { drifted };
  }

  // --- writing ---

  /** Adds the lines for one set to the script, and its bookkeeping (see runBatch). */
  private plan(s: SetState, script: RestoreScript, book: Iterator<void>[], result: ReconcileResult): void {
    const k = this.kernel.getActual(s.name);
    if (k && !swappable(k, s.meta)) return; // its destroy failed or waits; counted there
    const size = s.members.desiredSize;
    if (size > this.maxSize) {
      result.failures++;
      result.errors.push(`IP set ${s.name} (${s.id}) wants ${size} members, more than maxelem ${this.maxSize}: not written; raise MaxIpsetSize`);
      return;
    }
    const { name, temp, meta } = s;
    const create = (n: string): string => `create ${n} ${meta.type} family ${meta.family} maxelem ${meta.maxelem}`;
    const deltas = s.members.pendingUpdateCount + s.members.pendingDeletionCount;
    if (!k) {
      const members = [...s.members.desiredKeys()];
      script.line(name, create(name)).members(name, `add ${name} `, members);
      this.kernel.setActual(name, meta);
      book.push(bookWhole(s.members, members));
    } else if (this.unknown.has(name) || k.maxelem !== meta.maxelem || deltas > size + REWRITE_OVERHEAD_LINES) {
      const members = [...s.members.desiredKeys()];
      // A temporary left by a crash would make `create` fail.
      if (this.kernel.getActual(temp)) script.line(name, `destroy ${temp}`);
      script.line(name, create(temp)).members(name, `add ${temp} `, members).line(name, `swap ${name} ${temp}`).line(name, `destroy ${temp}`);
      this.kernel.deleteActual(temp);
      this.kernel.setActual(name, meta);
      this.unknown.delete(name);
      book.push(bookWhole(s.members, members));
    } else {
      const dels = [...s.members.pendingDeletions()].map(([m]) => m);
      const adds = [...s.members.pendingUpdates()].map(([m]) => m);
      script.members(name, `del ${name} `, dels, ' -exist').members(name, `add ${name} `, adds, ' -exist');
      book.push(bookDeltas(s.members, dels, adds));
    }
  }

  /**
   * Runs the batch. Its bookkeeping is done before the outcome is known (set level at planning,
   * members while ipset works): on success that is the truth, and on failure nothing in the batch
   * is trusted anyway — its sets are marked unknown and the kernel is read back first.
   */
  private async runBatch(script: RestoreScript, book: Iterator<void>[], result: ReconcileResult): Promise<void> {
    const affected = script.sets();
    let next = 0;
    const step = (slices: number): void => {
      while (next < book.length && slices > 0) {
        if (book[next]!.next().done) next++;
        else slices--;
      }
    };
    const r = await this.exec(() => runRestore(this.runner, this.argv('restore'), script, { timeoutMs: this.timeoutMs, onChunk: () => step(BOOK_SLICES_PER_CHUNK) }), result);
    if (r && r.code === 0) {
      step(Infinity);
      for (const name of affected) this.suspects.delete(name);
      result.writes += script.length;
      return;
    }
    if (r) {
      this.metrics?.errors.inc();
      const e = parseRestoreError(r.stderr);
      const at = e.line === undefined ? undefined : script.lineAt(e.line);
      if (at) this.suspects.add(at.set);
      result.failures++;
      result.errors.push(at ? `ipset restore failed at line ${e.line} (${at.text}): ${e.message}` : `ipset restore failed: ${e.message}`);
    }
    // ipset does not say which earlier lines it applied: nothing in the batch is known now.
    for (const name of affected) if (this.byName.has(name)) this.unknown.add(name);
    this.needsResync = true;
    this.log.warn({ errors: result.errors, sets: affected.length, lines: script.length }, 'IP set update failed; the next apply reads the kernel back first and repairs the affected sets');
  }

  private async destroyForTypeChange(s: SetState, k: KernelSetMeta, result: ReconcileResult): Promise<void> {
    if (this.blocked.has(s.name)) {
      result.waiting++;
      return;
    }
    const r = await this.exec(() => this.runner.run(this.argv('destroy', s.name), { timeoutMs: this.timeoutMs }), result);
    if (!r) return;
    if (r.code === 0 || NOT_FOUND.test(r.stderr)) {
      this.log.info({ set: s.name, was: k.type, want: s.meta.type }, 'IP set has the wrong type; destroyed it to create it again');
      if (r.code !== 0) this.metrics?.errors.inc();
      this.kernel.deleteActual(s.name);
      s.members.replaceAllActual(new Map());
      this.unknown.delete(s.name);
      result.writes++;
      return;
    }
    this.metrics?.errors.inc();
    if (IN_USE.test(r.stderr)) {
      this.blocked.add(s.name);
      result.waiting++;
      this.reportInUse(s.name, result, `IP set ${s.name} is ${k.type} ${k.family} but must be ${s.meta.type} ${s.meta.family}, and it cannot be recreated while an iptables rule refers to it; will retry after the next resync`);
      return;
    }
    result.failures++;
    result.errors.push(`cannot destroy IP set ${s.name} to change its type: ${r.stderr.trim()}`);
    this.needsResync = true;
  }

  /** Runs one ipset command, counting it; an ExecError (cannot run, timeout) is a failure. */
  private async exec<T>(fn: () => Promise<T>, result: ReconcileResult): Promise<T | undefined> {
    this.metrics?.calls.inc();
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof ExecError)) throw e;
      this.metrics?.errors.inc();
      result.failures++;
      result.errors.push(e.message);
      return undefined;
    }
  }

  private destroyed(name: string, result: ReconcileResult): void {
    this.kernel.deleteActual(name);
    this.reported.delete(name);
    result.writes++;
  }

  private reportInUse(name: string, result: ReconcileResult, message: string): void {
    if (this.reported.has(name)) return;
    this.reported.add(name);
    result.errors.push(message);
    this.log.warn({ set: name }, message);
  }

  // --- desired state ---

  private hasWork(s: SetState): boolean {
    return this.hasWorkAfter(s, this.kernel.getActual(s.name));
  }

  private hasWorkAfter(s: SetState, k: KernelSetMeta | undefined): boolean {
    return k === undefined || !metaEqual(k, s.meta) || !s.members.inSync || this.unknown.has(s.name);
  }

  private mustGet(id: string): SetState {
    const s = this.sets.get(id);
    if (!s) throw new Error(`IP set ${JSON.stringify(id)} is not desired: setDesired must come before a membership delta`);
    return s;
  }

  private canonicalAll(s: SetState, members: Iterable<string>): string[] {
    const out: string[] = [];
    for (const m of members) if (memberIpVersion(s.type, m) === this.v) out.push(canonicalMember(s.type, m));
    return out;
  }

  private addOne(s: SetState, c: string): void {
    if (s.type === 'net') {
      const ws = WHOLE_SPACE[this.v];
      if (c === ws.whole) {
        s.whole = true;
        for (const h of ws.halves) s.members.setDesired(h, true);
        return;
      }
      if (c === ws.halves[0] || c === ws.halves[1]) (s.ownHalves ??= new Set()).add(c);
    }
    s.members.setDesired(c, true);
  }

  private removeOne(s: SetState, c: string): void {
    if (s.type === 'net') {
      const ws = WHOLE_SPACE[this.v];
      if (c === ws.whole) {
        if (!s.whole) return;
        s.whole = false;
        for (const h of ws.halves) if (!s.ownHalves?.has(h)) s.members.deleteDesired(h);
        return;
      }
      if (c === ws.halves[0] || c === ws.halves[1]) {
        s.ownHalves?.delete(c);
        if (s.whole) return;
      }
    }
    s.members.deleteDesired(c);
  }

  private argv(...args: string[]): string[] {
    return inNetnsArgv({ netns: this.netns }, ['ipset', ...args]);
  }

  private enter(): void {
    if (this.busy) throw new Error('IpSets: resync/applyUpdates/applyDeletions called while another is running');
    this.busy = true;
  }
}

/** Books a set written whole: the kernel now holds exactly `written`. Yields every BOOK_SLICE operations. */
function* bookWhole(t: DeltaTracker<true>, written: readonly string[]): Generator<void, void, void> {
  let n = 0;
  if (t.actualSize > 0) {
    const keep = new Set<string>();
    for (const m of written) {
      keep.add(m);
      if (++n % BOOK_SLICE === 0) yield;
    }
    for (const m of Array.from(t.actualEntries(), ([k]) => k)) {
      if (!keep.has(m)) t.deleteActual(m);
      if (++n % BOOK_SLICE === 0) yield;
    }
  }
  for (const m of written) {
    t.setActual(m, true);
    if (++n % BOOK_SLICE === 0) yield;
  }
}

function* bookDeltas(t: DeltaTracker<true>, dels: readonly string[], adds: readonly string[]): Generator<void, void, void> {
  let n = 0;
  for (const m of dels) {
    t.deleteActual(m);
    if (++n % BOOK_SLICE === 0) yield;
  }
  for (const m of adds) {
    t.setActual(m, true);
    if (++n % BOOK_SLICE === 0) yield;
  }
}

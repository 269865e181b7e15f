/**
 * One generic desired-vs-actual tracker, used by every reconciler (routes, links, neighbours,
 * FDB, sysctls), after Felix's `deltatracker`. Keys are canonical strings because a JS `Map`
 * compares objects by reference; values are compared with a caller-supplied equality function.
 *
 * The tracker never talks to the kernel. A reconciler tells it what it wants (`setDesired`), what
 * the kernel has (`replaceAllActual` after a dump, `setActual` after a successful write) and asks
 * what is left to do (`pendingUpdates`, `pendingDeletions`). Both pending sets are maintained
 * incrementally so an apply with nothing to do costs nothing, even with 100,000 keys.
 */

export type Equals<V> = (a: V, b: V) => boolean;

export interface ResyncResult {
  /**
   * Keys that were in sync before the dump and are not any more: someone changed the kernel
   * behind our back (deleted a route, flipped a sysctl). Counted as repairs.
   */
  drifted: number;
}

export class DeltaTracker<V> {
  private readonly desired = new Map<string, V>();
  private actual = new Map<string, V>();
  /** Desired keys whose actual value is missing or different. */
  private readonly updates = new Map<string, V>();
  /** Actual keys that are not desired (present in the kernel, owned by us, unwanted). */
  private readonly deletions = new Map<string, V>();

  constructor(private readonly equals: Equals<V>) {}

  get desiredSize(): number {
    return this.desired.size;
  }
  get actualSize(): number {
    return this.actual.size;
  }
  get pendingUpdateCount(): number {
    return this.updates.size;
  }
  get pendingDeletionCount(): number {
    return this.deletions.size;
  }
  /** True when the kernel (as last seen) matches what is wanted. */
  get inSync(): boolean {
    return this.updates.size === 0 && this.deletions.size === 0;
  }

  getDesired(key: string): V | undefined {
    return this.desired.get(key);
  }
  getActual(key: string): V | undefined {
    return this.actual.get(key);
  }
  desiredKeys(): IterableIterator<string> {
    return this.desired.keys();
  }
  desiredEntries(): IterableIterator<[string, V]> {
    return this.desired.entries();
  }
  actualEntries(): IterableIterator<[string, V]> {
    return this.actual.entries();
  }

  /** Returns true if the key now has a pending update (the kernel lacks `value`). */
  setDesired(key: string, value: V): boolean {
    // recompute() specialised for "desired is now `value`": this is the hot path of queuing
    // 100,000 routes, so it skips the lookups it can.
    this.desired.set(key, value);
    if (this.deletions.size > 0) this.deletions.delete(key);
    const a = this.actual.size > 0 ? this.actual.get(key) : undefined;
    if (a !== undefined && (a === value || this.equals(value, a))) {
      if (this.updates.size > 0) this.updates.delete(key);
      return false;
    }
    this.updates.set(key, value);
    return true;
  }

  deleteDesired(key: string): void {
    if (!this.desired.delete(key)) return;
    this.recompute(key);
  }

  /** Replaces the whole desired set (a full resync from the calc layer). */
  replaceAllDesired(entries: Iterable<[string, V]>): void {
    const old = new Set(this.desired.keys());
    this.desired.clear();
    for (const [k, v] of entries) {
      this.desired.set(k, v);
      old.delete(k);
      this.recompute(k);
    }
    for (const k of old) this.recompute(k);
  }

  /** Records the kernel's value for one key (after a successful write, or a monitor event). */
  setActual(key: string, value: V): void {
    // recompute() specialised for "actual is now `value`": called once per route written (the
    // bookkeeping of a 100,000-route batch), so it skips the lookups it can.
    this.actual.set(key, value);
    const d = this.desired.get(key);
    if (d !== undefined) {
      if (this.deletions.size > 0) this.deletions.delete(key);
      if (d === value || this.equals(d, value)) this.updates.delete(key);
      else this.updates.set(key, d);
    } else {
      if (this.updates.size > 0) this.updates.delete(key);
      this.deletions.set(key, value);
    }
  }

  /** Records that the kernel no longer has this key. */
  deleteActual(key: string): void {
    if (!this.actual.delete(key)) return;
    // recompute() specialised for "actual is now absent".
    const d = this.desired.get(key);
    if (d !== undefined) this.updates.set(key, d);
    else if (this.deletions.size > 0) this.deletions.delete(key);
  }

  /**
   * Replaces everything we believed about the kernel with a fresh dump of what we own. Returns
   * how many keys had drifted from a previously in-sync state.
   */
  replaceAllActual(entries: Iterable<[string, V]>): ResyncResult {
    let drifted = 0;
    const old = this.actual;
    const fresh = entries instanceof Map ? (entries as Map<string, V>) : new Map<string, V>(entries);
    // Work out drift before mutating: a key was in sync if desired and actual agreed (or both absent).
    const wasInSync = (k: string): boolean => {
      const d = this.desired.get(k);
      const a = old.get(k);
      if (d === undefined) return a === undefined;
      return a !== undefined && this.equals(d, a);
    };
    const touched: string[] = [];
    for (const [k, v] of fresh) {
      const a = old.get(k);
      if (a === undefined || !this.equals(a, v)) {
        if (wasInSync(k)) drifted++;
        touched.push(k);
      }
    }
    for (const k of old.keys()) {
      if (!fresh.has(k)) {
        if (wasInSync(k)) drifted++;
        touched.push(k);
      }
    }
    // The caller hands over a freshly built dump; keeping it avoids copying 100,000 entries.
    this.actual = fresh;
    for (const k of touched) this.recompute(k);
    return { drifted };
  }

  /** Desired entries the kernel does not have yet (or has with a different value). */
  pendingUpdates(): IterableIterator<[string, V]> {
    return this.updates.entries();
  }

  /** Owned kernel entries that are no longer desired, with the kernel's value. */
  pendingDeletions(): IterableIterator<[string, V]> {
    return this.deletions.entries();
  }

  private recompute(key: string): void {
    const d = this.desired.get(key);
    const a = this.actual.get(key);
    if (d !== undefined) {
      this.deletions.delete(key);
      if (a !== undefined && (a === d || this.equals(d, a))) this.updates.delete(key);
      else this.updates.set(key, d);
    } else {
      this.updates.delete(key);
      if (a !== undefined) this.deletions.set(key, a);
      else this.deletions.delete(key);
    }
  }
}

/**
 * A consumer that keeps the syncer's current model in memory: `tortie datastore dump`, tests and
 * simple consumers use it. It also checks the stream's contract as it goes (an `add` for a key it
 * already holds, or an `update`/`delete` for one it does not, is a syncer bug) and counts such
 * violations instead of hiding them.
 */
import type { Resource, ResourceKind, ResourceOf } from './model/index.js';
import { canonicalKey } from './model/index.js';
import type { Syncer, SyncStatus, Update } from './syncer.js';

export class ResourceCache {
  private readonly byKey = new Map<string, Resource>();
  /** Stream-contract violations seen (should stay 0). */
  violations = 0;
  status: SyncStatus = 'WaitForDatastore';
  private unsubscribe: (() => void)[] = [];

  /** Subscribes to a syncer (call before syncer.start()). */
  attach(syncer: Syncer): this {
    this.unsubscribe.push(syncer.onUpdates((b) => this.apply(b)), syncer.onStatus((s) => (this.status = s)));
    return this;
  }

  detach(): void {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
  }

  apply(batch: readonly Update[]): void {
    for (const u of batch) {
      const had = this.byKey.has(u.key);
      if (u.type === 'delete') {
        if (!had) this.violations++;
        this.byKey.delete(u.key);
      } else {
        if ((u.type === 'add') === had) this.violations++;
        if (u.value) this.byKey.set(u.key, u.value);
      }
    }
  }

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): Resource | undefined {
    return this.byKey.get(key);
  }

  getResource<K extends ResourceKind>(kind: K, name: string, namespace?: string): ResourceOf<K> | undefined {
    return this.byKey.get(canonicalKey(kind, name, namespace)) as ResourceOf<K> | undefined;
  }

  /** Resources of one kind (or all), sorted by key for stable output. */
  list<K extends ResourceKind>(kind?: K): (K extends ResourceKind ? ResourceOf<K> : Resource)[] {
    const keys = [...this.byKey.keys()].filter((k) => !kind || k.startsWith(`${kind}/`)).sort();
    return keys.map((k) => this.byKey.get(k)!) as (K extends ResourceKind ? ResourceOf<K> : Resource)[];
  }

  /** key → value snapshot (for comparisons in tests). */
  snapshot(): Map<string, Resource> {
    return new Map(this.byKey);
  }
}

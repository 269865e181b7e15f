/**
 * The pure heart of the syncer: what one scope's consumers have been told, and how a complete list
 * or a watch event changes that. No I/O, no timers — so replay tests can feed the same history in
 * many orders and split points and check the resulting model is always the same.
 *
 * Rules:
 * - A put whose revision is not newer than what was already emitted (or judged invalid) for the key
 *   is a duplicate (a watch that restarted from an older revision, an overlap between a list and
 *   a watch) and is dropped.
 * - A list is a snapshot: keys with the same revision are unchanged and produce nothing; new keys
 *   produce `add`, changed ones `update`, and keys the list no longer has produce `delete`.
 * - An invalid value never reaches consumers. If the key had a valid value, consumers get a
 *   `delete` (Calico treats an update that fails validation as a deletion).
 */
import { validateResource, type Problem, type Resource, type ResourceKind } from './model/index.js';
import { isNotNewer } from './revision.js';
import type { Update } from './syncer.js';
import type { BackendEvent, BackendItem } from './types.js';

/** Called for each rejected value; the syncer logs it and counts the metric. */
export type InvalidHandler = (item: BackendItem, problems: readonly Problem[], wasValid: boolean) => void;

export interface ListSession {
  page(items: readonly BackendItem[]): Update[];
  end(revision: string): Update[];
}

export interface ScopeStateOptions {
  /**
   * Keep the value last emitted for each key, for `get()` (tests, tools). The syncer does not
   * need it: deduplication and re-list reconciliation use only the revision, and consumers hold
   * whatever they need of the values. Without it a key costs its revision string and a map entry
   * (~40 bytes) instead of pinning a validated resource (~1 KB for a WorkloadEndpoint) that a
   * consumer such as calc (which keeps only this node's endpoints) has long dropped.
   */
  keepValues?: boolean;
}

export class ScopeState {
  /**
   * Keys consumers currently hold, with the revision they were given. Revision alone decides
   * "changed": in both datastores a stored value's revision moves on every write, and the value
   * consumers get carries it (`metadata.resourceVersion`), so a value at a new revision is never
   * equal to the one delivered before, even when the writer stored the same bytes again.
   */
  private readonly emitted = new Map<string, string>();
  /** Values as emitted, only with `keepValues`. */
  private readonly values: Map<string, Resource> | undefined;
  /** Keys whose latest value was invalid, at that revision (so a replay is not re-logged). */
  private readonly invalid = new Map<string, string>();

  constructor(
    private readonly onInvalid: InvalidHandler = () => {},
    opts: ScopeStateOptions = {},
  ) {
    this.values = (opts.keepValues ?? true) ? new Map() : undefined;
  }

  get size(): number {
    return this.emitted.size;
  }

  /** Current value of a key as consumers see it (undefined for every key without `keepValues`). */
  get(key: string): Resource | undefined {
    return this.values?.get(key);
  }

  /** Revision consumers hold for a key. */
  revisionOf(key: string): string | undefined {
    return this.emitted.get(key);
  }

  keys(): IterableIterator<string> {
    return this.emitted.keys();
  }

  /** Applies a complete listing at `revision`; returns the updates consumers need. */
  applyList(items: readonly BackendItem[], revision: string): Update[] {
    const session = this.beginList();
    return [...session.page(items), ...session.end(revision)];
  }

  /**
   * A listing applied page by page: `page()` returns the adds/updates for that page at once, `end()`
   * the deletes for keys no page mentioned. An abandoned session (list failed half-way) leaves the
   * state consistent with what was delivered: every update reflects a real stored value.
   */
  beginList(): ListSession {
    const seen = new Set<string>();
    return {
      page: (items) => {
        const out: Update[] = [];
        for (const item of items) {
          seen.add(item.key);
          this.put(item, out);
        }
        return out;
      },
      end: (revision) => {
        const out: Update[] = [];
        for (const key of this.emitted.keys()) {
          if (seen.has(key)) continue;
          this.forget(key);
          out.push({ type: 'delete', kind: kindOfKey(key), key, revision });
        }
        for (const key of this.invalid.keys()) if (!seen.has(key)) this.invalid.delete(key);
        return out;
      },
    };
  }

  /** Applies one watch event; returns the updates consumers need (zero or one). */
  applyEvent(ev: BackendEvent): Update[] {
    const out: Update[] = [];
    if (ev.type === 'put') {
      this.put(ev.item, out);
      return out;
    }
    const inv = this.invalid.get(ev.key);
    if (inv !== undefined && !isNotNewer(ev.revision, inv)) this.invalid.delete(ev.key);
    const cur = this.emitted.get(ev.key);
    if (cur === undefined || isNotNewer(ev.revision, cur)) return out;
    this.forget(ev.key);
    out.push({ type: 'delete', kind: ev.kind, key: ev.key, revision: ev.revision });
    return out;
  }

  private put(item: BackendItem, out: Update[]): void {
    const cur = this.emitted.get(item.key);
    if (cur !== undefined && isNotNewer(item.revision, cur)) return;
    const inv = this.invalid.get(item.key);
    if (inv !== undefined && isNotNewer(item.revision, inv)) return;

    // Read `value` once: a backend may decode it on each access (etcd's lazy list items).
    const value = item.value;
    const judged: { ok: true; resource: Resource } | { ok: false; problems: readonly Problem[] } =
      value === undefined
        ? { ok: false, problems: [{ path: '(value)', message: item.decodeError ?? 'no value' }] }
        : validateResource(item.kind, value);
    if (!judged.ok) {
      this.invalid.set(item.key, item.revision);
      this.onInvalid(item, judged.problems, cur !== undefined);
      if (cur !== undefined) {
        this.forget(item.key);
        out.push({ type: 'delete', kind: item.kind, key: item.key, revision: item.revision });
      }
      return;
    }
    this.invalid.delete(item.key);
    this.emitted.set(item.key, item.revision);
    this.values?.set(item.key, judged.resource);
    out.push({ type: cur !== undefined ? 'update' : 'add', kind: item.kind, key: item.key, value: judged.resource, revision: item.revision });
  }

  private forget(key: string): void {
    this.emitted.delete(key);
    this.values?.delete(key);
  }
}

/** The kind of a canonical key (`<Kind>/...`, model.canonicalKey): deletes need it, values are not kept. */
function kindOfKey(key: string): ResourceKind {
  return key.slice(0, key.indexOf('/')) as ResourceKind;
}

/**
 * The test API server's storage: a multi-version object store with one global, monotonic revision
 * counter, the way kube-apiserver's etcd3 storage behaves. Every write gets the next revision, which
 * becomes the object's `metadata.resourceVersion`; history is kept per key so a paged list can be
 * served from the snapshot of its first page, and an event log lets a watch resume from any
 * revision newer than the compaction point. `compact(rev)` drops history the way etcd compaction
 * does, after which old continue tokens and old watch revisions get 410 Gone.
 */
import { randomUUID } from 'node:crypto';

export type KubeObject = {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
};

/** One change in the event log; `prev` lets a filtered watch turn transitions into ADDED/DELETED. */
export type StoreEvent = {
  rev: number;
  resource: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
  prev?: KubeObject;
};

type Version = { rev: number; object: KubeObject | null };

export class StoreError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export class VersionedStore {
  private rev = 1;
  private compacted = 0;
  /** resource -> key -> versions (oldest first). */
  private readonly data = new Map<string, Map<string, Version[]>>();
  private readonly log: StoreEvent[] = [];
  private readonly listeners = new Set<(e: StoreEvent) => void>();

  get revision(): number {
    return this.rev;
  }

  get compactedRevision(): number {
    return this.compacted;
  }

  onEvent(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private versions(resource: string, key: string): Version[] {
    let byKey = this.data.get(resource);
    if (!byKey) this.data.set(resource, (byKey = new Map()));
    let v = byKey.get(key);
    if (!v) byKey.set(key, (v = []));
    return v;
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const v = this.data.get(resource)?.get(objectKey(namespace, name));
    const last = v?.[v.length - 1];
    return last?.object ? structuredClone(last.object) : undefined;
  }

  /** Current objects of a resource, or the snapshot at `atRev`, sorted by namespace/name. */
  list(resource: string, atRev?: number): KubeObject[] {
    if (atRev !== undefined && atRev < this.compacted) {
      throw new StoreError(410, 'Expired', `too old resource version: ${atRev} (${this.compacted})`);
    }
    const out: Array<[string, KubeObject]> = [];
    for (const [key, versions] of this.data.get(resource) ?? []) {
      let pick: Version | undefined;
      for (const v of versions) if (atRev === undefined || v.rev <= atRev) pick = v;
      if (pick?.object) out.push([key, pick.object]);
    }
    out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return out.map(([, o]) => structuredClone(o));
  }

  /** Events for `resource` strictly after `afterRev`; 410 if that history was compacted. */
  eventsSince(resource: string, afterRev: number): StoreEvent[] {
    if (afterRev < this.compacted) {
      throw new StoreError(410, 'Expired', `too old resource version: ${afterRev} (${this.compacted})`);
    }
    return this.log.filter((e) => e.rev > afterRev && e.resource === resource);
  }

  create(resource: string, obj: KubeObject): KubeObject {
    const key = objectKey(obj.metadata.namespace, obj.metadata.name);
    const versions = this.versions(resource, key);
    if (versions.length && versions[versions.length - 1].object) {
      throw new StoreError(409, 'AlreadyExists', `${resource} "${obj.metadata.name}" already exists`);
    }
    const stored = structuredClone(obj);
    stored.metadata.uid ??= randomUUID();
    stored.metadata.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    return this.commit(resource, key, stored, 'ADDED', undefined);
  }

  /** Replace; a non-empty resourceVersion must match the stored one (optimistic concurrency). */
  update(resource: string, obj: KubeObject): KubeObject {
    const key = objectKey(obj.metadata.namespace, obj.metadata.name);
    const versions = this.versions(resource, key);
    const cur = versions[versions.length - 1]?.object;
    if (!cur) throw new StoreError(404, 'NotFound', `${resource} "${obj.metadata.name}" not found`);
    const want = obj.metadata.resourceVersion;
    if (want && want !== cur.metadata.resourceVersion) {
      throw new StoreError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${resource} "${obj.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    const stored = structuredClone(obj);
    stored.metadata.uid = cur.metadata.uid;
    stored.metadata.creationTimestamp = cur.metadata.creationTimestamp;
    return this.commit(resource, key, stored, 'MODIFIED', cur);
  }

  delete(resource: string, namespace: string | undefined, name: string): KubeObject {
    const key = objectKey(namespace, name);
    const versions = this.versions(resource, key);
    const cur = versions[versions.length - 1]?.object;
    if (!cur) throw new StoreError(404, 'NotFound', `${resource} "${name}" not found`);
    const rev = ++this.rev;
    const gone = structuredClone(cur);
    gone.metadata.resourceVersion = String(rev);
    versions.push({ rev, object: null });
    this.emit({ rev, resource, type: 'DELETED', object: gone, prev: cur });
    return structuredClone(gone);
  }

  private commit(
    resource: string,
    key: string,
    stored: KubeObject,
    type: 'ADDED' | 'MODIFIED',
    prev: KubeObject | undefined,
  ): KubeObject {
    const rev = ++this.rev;
    stored.metadata.resourceVersion = String(rev);
    this.versions(resource, key).push({ rev, object: stored });
    this.emit({ rev, resource, type, object: stored, prev });
    return structuredClone(stored);
  }

  private emit(e: StoreEvent): void {
    this.log.push(e);
    for (const l of this.listeners) l(e);
  }

  /**
   * Forget history at or before `rev` (default: everything but the current state), like etcd
   * compaction: lists at older revisions, old continue tokens and watches from older revisions
   * now get 410 Gone.
   */
  compact(rev = this.rev): void {
    this.compacted = Math.max(this.compacted, rev);
    while (this.log.length && this.log[0].rev <= rev) this.log.shift();
    for (const byKey of this.data.values()) {
      for (const [key, versions] of byKey) {
        // Keep the newest version at or before `rev`, plus everything after it.
        let keepFrom = 0;
        for (let i = 0; i < versions.length; i++) if (versions[i].rev <= rev) keepFrom = i;
        versions.splice(0, keepFrom);
        if (versions.length === 1 && versions[0].object === null) byKey.delete(key);
      }
    }
  }
}

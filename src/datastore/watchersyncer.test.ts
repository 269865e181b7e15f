/**
 * WatcherSyncer against an in-memory backend (a unit test of the loop logic; the real etcd is in
 * test/datastore/). The fake keeps a revisioned history, can compact it and fail watches, like etcd.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { ResourceCache } from './cache.js';
import { WatcherSyncer } from './watchersyncer.js';
import type { Update } from './syncer.js';
import { DatastoreError, type BackendEvent, type DatastoreBackend, type ListResult, type ResourceScope, type WatchSink } from './types.js';

class FakeBackend implements DatastoreBackend {
  readonly type = 'etcdv3' as const;
  readonly description = 'fake';
  rev = 0;
  compactedTo = 0;
  store = new Map<string, { value: unknown; rev: number }>();
  history: { rev: number; ev: BackendEvent }[] = [];
  sinks = new Set<{ sink: WatchSink; next: number }>();
  failLists = 0;
  lists = 0;
  /** While set, every list and watch fails as a refused connection would. */
  down = false;

  put(name: string, cidr: string): void {
    const rev = ++this.rev;
    const value = { kind: 'IPPool', metadata: { name }, spec: { cidr } };
    this.store.set(`IPPool/${name}`, { value, rev });
    this.emit({ rev, ev: { type: 'put', item: { key: `IPPool/${name}`, kind: 'IPPool', value, revision: String(rev) } } });
  }
  del(name: string): void {
    const rev = ++this.rev;
    this.store.delete(`IPPool/${name}`);
    this.emit({ rev, ev: { type: 'delete', key: `IPPool/${name}`, kind: 'IPPool', revision: String(rev) } });
  }
  private emit(h: { rev: number; ev: BackendEvent }): void {
    this.history.push(h);
    for (const s of this.sinks) s.sink.onEvents([h.ev]);
  }
  /** Breaks every watch with a transient error. */
  dropWatches(): void {
    for (const s of [...this.sinks]) {
      this.sinks.delete(s);
      s.sink.onError(new DatastoreError('transient', 'connection reset'));
    }
  }
  compact(): void {
    this.compactedTo = this.rev;
    this.history = [];
    for (const s of [...this.sinks]) {
      this.sinks.delete(s);
      s.sink.onError(new DatastoreError('compacted', 'required revision has been compacted'));
    }
  }
  async list(_scope: ResourceScope): Promise<ListResult> {
    this.lists++;
    if (this.down) throw new DatastoreError('transient', 'connection refused');
    if (this.failLists > 0) {
      this.failLists--;
      throw new DatastoreError('transient', 'connection refused');
    }
    return {
      revision: String(this.rev),
      items: [...this.store].map(([key, { value, rev }]) => ({ key, kind: 'IPPool' as const, value, revision: String(rev) })),
    };
  }
  watch(_scope: ResourceScope, after: string, sink: WatchSink) {
    const entry = { sink, next: Number(after) + 1 };
    queueMicrotask(() => {
      if (this.down) {
        sink.onError(new DatastoreError('transient', 'connection refused'));
        return;
      }
      if (Number(after) < this.compactedTo) {
        // As etcd does: the watch is confirmed created, then cancelled for the compaction.
        sink.onConnected?.();
        setTimeout(() => sink.onError(new DatastoreError('compacted', 'compacted')), 2);
        return;
      }
      sink.onConnected?.();
      const missed = this.history.filter((h) => h.rev > Number(after)).map((h) => h.ev);
      if (missed.length) sink.onEvents(missed);
      this.sinks.add(entry);
    });
    return { close: () => void this.sinks.delete(entry) };
  }
  verifyRevision = async (_scope: ResourceScope, after: string): Promise<void> => {
    if (this.down) throw new DatastoreError('transient', 'connection refused');
    if (Number(after) < this.compactedTo) throw new DatastoreError('compacted', 'compacted');
  };
  async close(): Promise<void> {}
}

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await tick();
  }
  assert.fail(`timed out waiting for ${what}`);
}

function setup() {
  const backend = new FakeBackend();
  const registry = new Registry();
  const syncer = new WatcherSyncer({ name: 'felix', backend, scopes: [{ kind: 'IPPool' }], registry, backoff: { initialMs: 1, maxMs: 5 } });
  const cache = new ResourceCache().attach(syncer);
  const updates: Update[] = [];
  syncer.onUpdates((b) => updates.push(...b));
  const statuses: string[] = [];
  syncer.onStatus((s) => statuses.push(s));
  const metric = async (name: string) => {
    const m = (await registry.getSingleMetric(name)?.get())?.values ?? [];
    return m.reduce((a, v) => a + v.value, 0);
  };
  return { backend, syncer, cache, updates, statuses, metric };
}

test('syncer: snapshot before InSync, then deltas; felix_resync_state follows', async () => {
  const { backend, syncer, cache, statuses, metric } = setup();
  backend.put('a', '10.1.0.0/16');
  backend.put('b', '10.2.0.0/16');
  syncer.start();
  await until(() => syncer.status === 'InSync', 'InSync');
  assert.deepEqual(statuses, ['WaitForDatastore', 'ResyncInProgress', 'InSync']);
  assert.equal(cache.size, 2);
  assert.equal(await metric('felix_resync_state'), 3);
  backend.put('c', '10.3.0.0/16');
  backend.del('a');
  await until(() => cache.size === 2 && !!cache.get('IPPool/c'), 'delta');
  assert.equal(cache.violations, 0);
  await syncer.stop();
});

test('syncer: compaction re-lists, sends only differences, counts a resync', async () => {
  const { backend, syncer, cache, updates, statuses, metric } = setup();
  backend.put('a', '10.1.0.0/16');
  backend.put('b', '10.2.0.0/16');
  syncer.start();
  await until(() => syncer.status === 'InSync', 'InSync');
  // Changes the watch misses: the history is compacted before the syncer can read it.
  const before = updates.length;
  const cut = [...backend.sinks];
  backend.sinks.clear();
  backend.put('c', '10.3.0.0/16');
  backend.del('b');
  backend.compact();
  for (const s of cut) s.sink.onError(new DatastoreError('compacted', 'required revision has been compacted'));
  await until(() => backend.lists >= 2 && syncer.status === 'InSync' && cache.size === 2, 're-list');
  const after = updates.slice(before).map((u) => `${u.type} ${u.key}`);
  assert.deepEqual(after.sort(), ['add IPPool/c', 'delete IPPool/b']);
  assert.deepEqual(statuses, ['WaitForDatastore', 'ResyncInProgress', 'InSync', 'ResyncInProgress', 'InSync']);
  assert.equal(await metric('felix_resyncs_started'), 2);
  await syncer.stop();
});

test('syncer: an outage with compaction is one resync, however many scopes find it', async () => {
  const backend = new FakeBackend();
  const registry = new Registry();
  const scopes = [{ kind: 'IPPool' as const }, { kind: 'IPPool' as const, node: 'n2' }, { kind: 'IPPool' as const, node: 'n3' }];
  const syncer = new WatcherSyncer({ name: 'felix', backend, scopes, registry, backoff: { initialMs: 1, maxMs: 20 } });
  const statuses: string[] = [];
  syncer.onStatus((s) => statuses.push(s));
  backend.put('a', '10.1.0.0/16');
  syncer.start();
  await until(() => syncer.status === 'InSync', 'InSync');
  backend.down = true;
  backend.dropWatches();
  await tick(30); // every scope has failed and is backing off
  backend.put('b', '10.2.0.0/16');
  backend.compact();
  backend.down = false;
  await until(() => syncer.status === 'InSync' && syncer.health().lostSince === undefined, 'InSync after the outage');
  await tick(50); // a scope that found its compaction late would show here
  assert.deepEqual(statuses, ['WaitForDatastore', 'ResyncInProgress', 'InSync', 'ResyncInProgress', 'InSync']);
  const started = (await registry.getSingleMetric('felix_resyncs_started')?.get())?.values[0]?.value;
  assert.equal(started, 2);
  await syncer.stop();
});

test('syncer: a transient failure reconnects with backoff and resumes without duplicates', async () => {
  const { backend, syncer, cache, updates, metric } = setup();
  backend.failLists = 2;
  backend.put('a', '10.1.0.0/16');
  syncer.start();
  await until(() => syncer.status === 'InSync', 'InSync after failed lists');
  assert.equal(await metric('tortie_datastore_reconnects_total'), 2);
  backend.dropWatches();
  assert.ok(syncer.health().lostSince !== undefined, 'lostSince set while disconnected');
  backend.put('b', '10.2.0.0/16'); // happens while the watch is down
  await until(() => cache.size === 2, 'catch-up');
  assert.equal(syncer.health().lostSince, undefined);
  assert.equal(syncer.status, 'InSync');
  const seen = updates.map((u) => `${u.key}@${u.revision}`);
  assert.equal(new Set(seen).size, seen.length, `duplicates: ${seen.join(' ')}`);
  assert.equal(backend.lists, 3, 'a transient watch failure does not re-list');
  await syncer.stop();
});

test('syncer: a consumer that throws does not stop delivery', async () => {
  const { backend, syncer, cache } = setup();
  syncer.onUpdates(() => {
    throw new Error('consumer bug');
  });
  backend.put('a', '10.1.0.0/16');
  syncer.start();
  await until(() => cache.size === 1, 'delivery');
  await syncer.stop();
});

/**
 * Recovery of the felix syncer against a real etcd, with the syncer in a child process inside its
 * own "client" namespace so the test can cut its path with iptables (in that namespace only):
 *
 * - etcd killed (SIGKILL) for TT_DS_OUTAGE_SECONDS (default 30), then restarted; changes are
 *   written through a second client while the syncer's path is still blocked, so they really
 *   happen "while it is away"; then the path opens. The syncer stays up, reconnects with backoff,
 *   and receives every change once — deletions included — with and without a compaction.
 * - compaction past the syncer's watch revision while writes keep flowing: every live key arrives
 *   exactly once, nothing is delivered twice, the final model equals etcd.
 * - a black-holed connection is noticed through gRPC keepalive, and recovers when the path returns.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { parseEtcdKey } from '../../src/datastore/etcd/layout.js';
import type { ResourceKind } from '../../src/datastore/model/index.js';
import { startEtcdPair, startSyncerChild, waitFor, waitStatusCount, type EtcdPair, type SyncerChild } from './helpers.js';

const R = '/calico/resources/v3/projectcalico.org';
const OUTAGE_S = Number(process.env.TT_DS_OUTAGE_SECONDS ?? 30);
/** Longer than keepalive time + timeout (6 s + 4 s, etcd/options.ts), so the dead path is noticed. */
const BLACKHOLE_LONGER_THAN_KEEPALIVE_MS = 14_000;

const poolKey = (n: string) => `${R}/ippools/${n}`;
const pool = (n: string, cidr: string) => JSON.stringify({ kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: n }, spec: { cidr, ipipMode: 'Always', natOutgoing: true } });
const wepKey = (n: string) => `${R}/workloadendpoints/default/${n}`;
const wep = (n: string, ip: string) =>
  JSON.stringify({
    kind: 'WorkloadEndpoint', apiVersion: 'projectcalico.org/v3',
    metadata: { name: n, namespace: 'default', labels: { app: 'x' } },
    spec: { orchestrator: 'k8s', node: 'node-1', pod: n, endpoint: 'eth0', ipNetworks: [`${ip}/32`], profiles: ['kns.default'], interfaceName: `cali${n.slice(0, 11)}` },
  });

let pair: EtcdPair;
before(async () => {
  pair = await startEtcdPair('rec');
});
after(async () => {
  await pair?.cleanup();
});

/** etcd's current content under /calico as canonical key → mod_revision. */
async function etcdModel(): Promise<Map<string, string>> {
  const out = JSON.parse(await pair.etcdctl('get', '--prefix', '/calico', '-w', 'json')) as { kvs?: { key: string; mod_revision: number }[] };
  const m = new Map<string, string>();
  for (const kv of out.kvs ?? []) {
    const key = Buffer.from(kv.key, 'base64').toString();
    const kind: ResourceKind = key.includes('/ippools/') ? 'IPPool' : 'WorkloadEndpoint';
    m.set(parseEtcdKey(kind, key)!.key, String(kv.mod_revision));
  }
  return m;
}

async function currentRevision(): Promise<string> {
  const out = JSON.parse(await pair.etcdctl('get', '/', '-w', 'json')) as { header: { revision: number } };
  return String(out.header.revision);
}

async function childModel(child: SyncerChild): Promise<Map<string, string>> {
  return new Map(Object.entries((await child.request('model')).keys));
}

async function metric(child: SyncerChild, name: string): Promise<number> {
  const line = (await child.request('metrics')).text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

function assertNoDuplicates(child: SyncerChild): void {
  const seen = new Set<string>();
  for (const u of child.updates) {
    const id = `${u.key}@${u.revision}`;
    assert.ok(!seen.has(id), `delivered twice: ${u.type} ${id}`);
    seen.add(id);
  }
}

async function seed(): Promise<void> {
  await pair.etcdctl('del', '--prefix', '/calico');
  for (let i = 0; i < 5; i++) await pair.etcdctl('put', poolKey(`pool-${i}`), pool(`pool-${i}`, `10.${10 + i}.0.0/16`));
  for (let i = 0; i < 5; i++) await pair.etcdctl('put', wepKey(`wep-${i}`), wep(`wep-${i}`, `10.10.0.${i + 1}`));
}

async function outage(seconds: number, compact: boolean): Promise<void> {
  await seed();
  const child = startSyncerChild(pair.clientNs, pair.endpoint);
  try {
    await waitStatusCount(child, 'InSync', 1, 30_000);
    pair.etcd.kill('SIGKILL');
    // The syncer keeps retrying against a dead port while etcd is away.
    await new Promise((r) => setTimeout(r, seconds * 1000));
    await pair.blackhole(true);
    await pair.etcd.restart();
    // Changes through a second client while the syncer's path is still cut: an update, a delete,
    // an add, for both kinds.
    await pair.etcdctl('put', poolKey('pool-1'), pool('pool-1', '10.99.0.0/16'));
    await pair.etcdctl('del', poolKey('pool-2'));
    await pair.etcdctl('put', poolKey('pool-new'), pool('pool-new', '10.98.0.0/16'));
    await pair.etcdctl('del', wepKey('wep-3'));
    await pair.etcdctl('put', wepKey('wep-new'), wep('wep-new', '10.10.0.99'));
    if (compact) await pair.etcdctl('compact', await currentRevision());
    const want = await etcdModel();
    const health = await child.request('health');
    assert.ok(health.lostSince !== undefined, 'lostSince is set while the datastore is away');
    await pair.blackhole(false);

    await waitFor(async () => JSON.stringify([...(await childModel(child))].sort()) === JSON.stringify([...want].sort()), {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: 'syncer model to equal etcd after the outage',
    });
    await waitFor(async () => (await child.request('health')).lostSince === undefined, { timeoutMs: 30_000, what: 'connection restored' });
    const h = await child.request('health');
    assert.equal(h.inSync, true);
    assert.ok(child.proc.exitCode === null, 'syncer process stayed up');
    assert.ok((await metric(child, 'tortie_datastore_reconnects_total')) >= 2, 'reconnects counted');
    assertNoDuplicates(child);
    const after = (k: string) => child.updates.filter((u) => u.key === k).map((u) => u.type);
    assert.deepEqual(after('IPPool/pool-1'), ['add', 'update']);
    assert.deepEqual(after('IPPool/pool-2'), ['add', 'delete']);
    assert.deepEqual(after('IPPool/pool-new'), ['add']);
    assert.deepEqual(after('WorkloadEndpoint/default/wep-3'), ['add', 'delete']);
    assert.deepEqual(after('WorkloadEndpoint/default/wep-new'), ['add']);
    assert.deepEqual(after('IPPool/pool-0'), ['add'], 'unchanged values are not re-sent');
    // Compaction forces a re-list (a second resync); otherwise the watch resumes where it was.
    assert.equal(await metric(child, 'felix_resyncs_started'), compact ? 2 : 1);
    assert.equal(await metric(child, 'felix_resync_state'), 3);
  } finally {
    await child.stop();
    await pair.blackhole(false).catch(() => {});
  }
}

test(`etcd outage: SIGKILL for ${OUTAGE_S} s, changes while away arrive once, deletions included`, { timeout: (OUTAGE_S + 120) * 1000 }, async () => {
  await outage(OUTAGE_S, false);
});

test('etcd outage with compaction while away: re-list reconciles, deletions derived, nothing replayed', { timeout: 120_000 }, async () => {
  await outage(3, true);
});

test('compaction past the watch revision while events flow: every live key exactly once', { timeout: 180_000 }, async () => {
  await pair.etcdctl('del', '--prefix', '/calico');
  const child = startSyncerChild(pair.clientNs, pair.endpoint);
  const writer = new Etcd3({ hosts: pair.unixEndpoint });
  let running = true;
  const written: string[] = [];
  const deleted = new Set<string>();
  const writing = (async () => {
    for (let i = 0; running; i++) {
      const n = `flow-${i}`;
      await writer.put(poolKey(n)).value(pool(n, `10.${i % 250}.${Math.floor(i / 250) % 250}.0/24`));
      written.push(`IPPool/${n}`);
      if (i % 7 === 3) {
        await writer.delete().key(poolKey(`flow-${i - 2}`));
        deleted.add(`IPPool/flow-${i - 2}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  try {
    await waitStatusCount(child, 'InSync', 1, 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    await pair.blackhole(true);
    await new Promise((r) => setTimeout(r, BLACKHOLE_LONGER_THAN_KEEPALIVE_MS));
    const rev = await currentRevision();
    await pair.etcdctl('compact', rev);
    await pair.blackhole(false);
    await waitStatusCount(child, 'InSync', 2, 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    running = false;
    await writing;
    const want = await etcdModel();
    await waitFor(async () => JSON.stringify([...(await childModel(child))].sort()) === JSON.stringify([...want].sort()), {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: 'syncer model to equal etcd',
    });
    assertNoDuplicates(child);
    assert.ok(written.length > 500, `enough events flowed (${written.length})`);
    for (const key of written) {
      const got = child.updates.filter((u) => u.key === key);
      if (!deleted.has(key)) {
        assert.deepEqual(got.map((u) => [u.type, u.revision]), [['add', want.get(key)]], `${key} exactly once`);
      } else {
        // Created and deleted: either both seen once, or (collapsed by the re-list) neither.
        assert.ok(got.length === 0 || JSON.stringify(got.map((u) => u.type)) === '["add","delete"]', `${key}: ${JSON.stringify(got)}`);
      }
    }
    assert.ok((await metric(child, 'felix_resyncs_started')) >= 2, 'compaction forced a re-list');
  } finally {
    running = false;
    await writing.catch(() => {});
    writer.close();
    await child.stop();
    await pair.blackhole(false).catch(() => {});
  }
});

test('black-holed connection: noticed through keepalive, recovers when the path returns', { timeout: 120_000 }, async () => {
  await seed();
  const child = startSyncerChild(pair.clientNs, pair.endpoint);
  try {
    await waitStatusCount(child, 'InSync', 1, 30_000);
    await pair.blackhole(true);
    const t0 = Date.now();
    // Without keepalive a silent peer goes unnoticed for TCP's retransmission timeout (~15 min).
    await waitFor(async () => (await child.request('health')).lostSince !== undefined, { timeoutMs: 30_000, intervalMs: 250, what: 'syncer to notice the black hole' });
    const noticedMs = Date.now() - t0;
    await pair.etcdctl('put', poolKey('pool-0'), pool('pool-0', '10.77.0.0/16'));
    await pair.blackhole(false);
    await waitFor(() => child.updates.some((u) => u.key === 'IPPool/pool-0' && u.type === 'update'), { timeoutMs: 60_000, what: 'change made during the black hole' });
    await waitFor(async () => (await child.request('health')).lostSince === undefined, { timeoutMs: 30_000, what: 'connection restored' });
    assert.equal((await child.request('health')).inSync, true);
    assertNoDuplicates(child);
    console.log(`# black hole noticed after ${noticedMs} ms`);
  } finally {
    await child.stop();
    await pair.blackhole(false).catch(() => {});
  }
});

/**
 * The Kubernetes backend feeding the real WatcherSyncer, against the test API server over
 * 127.0.0.1: snapshot and InSync, deltas afterwards, and the recovery paths (410 mid-stream, a
 * stream cut, failing lists, bookmarks, an expired continue token, a silent stream) — each must
 * end in the same model as the server's truth.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness, NODE, pod, waitFor } from './k8s-helpers.js';
import { bgpScopes } from '../../src/datastore/syncer.js';
import { TestApiServer } from '../k8s-apiserver/server.js';

const wepKey = (name: string, node = NODE) => `WorkloadEndpoint/default/${node.replace(/-/g, '--')}-k8s-${name.replace(/-/g, '--')}-eth0`;

test('snapshot: InSync only after every scope listed; local, addressed pods only; native objects converted', async () => {
  const h = await harness({ start: false });
  try {
    // The IPPool list fails twice: InSync must wait for it.
    h.server.failNextLists(2, 500, 'ippools.crd.projectcalico.org');
    let poolAtInSync: unknown;
    h.syncer.onStatus((s) => {
      if (s === 'InSync') poolAtInSync = h.model.get('IPPool/default-ipv4-ippool');
    });
    h.syncer.start();
    await h.converge('initial snapshot');
    assert.ok(poolAtInSync, 'IPPool present when InSync was first reported');
    assert.deepEqual(h.statuses.slice(0, 3), ['WaitForDatastore', 'ResyncInProgress', 'InSync']);

    const weps = [...h.model.keys()].filter((k) => k.startsWith('WorkloadEndpoint/')).sort();
    assert.deepEqual(weps, [wepKey('cni-1'), wepKey('web-1'), wepKey('web-2')].sort());
    const ever = new Set(h.updates.map((u) => u.key));
    for (const never of ['hostnet-1', 'pending-1', 'done-1', 'far-1']) {
      assert.ok(![...ever].some((k) => k.includes(never)), `${never} never reaches consumers`);
    }
    // Pods are requested for this node only; every other kind cluster-wide. The pod watch opens
    // after its list, possibly after InSync, so wait for it rather than assume it is there.
    await waitFor(() => h.server.requests.filter((r) => r.path === '/api/v1/pods').length >= 2, 'the pod list and the pod watch requests');
    const podReqs = h.server.requests.filter((r) => r.path === '/api/v1/pods');
    for (const r of podReqs) assert.equal(r.query.fieldSelector, `spec.nodeName=${NODE}`);
    for (const r of h.server.requests.filter((x) => x.path !== '/api/v1/pods')) assert.equal(r.query.fieldSelector, undefined);

    const node = h.model.get('Node/node-1') as { spec: { bgp?: { ipv4Address?: string; asNumber?: number }; ipv4VXLANTunnelAddr?: string; vxlanTunnelMACAddr?: string } };
    assert.equal(node.spec.bgp?.ipv4Address, '198.18.0.1/24');
    assert.equal(node.spec.bgp?.asNumber, 64512);
    assert.equal(node.spec.ipv4VXLANTunnelAddr, '10.65.1.0');
    assert.equal(node.spec.vxlanTunnelMACAddr, '66:00:00:00:00:01');
    assert.ok(h.model.get('Profile/kns.default'));
    assert.ok(h.model.get('Profile/ksa.default.web'));
    assert.ok(h.model.get('KubernetesNetworkPolicy/default/deny-all'));
    const cni = h.model.get(wepKey('cni-1')) as { spec: { ipNetworks: string[] } };
    assert.deepEqual(cni.spec.ipNetworks, ['10.65.1.7/32']);
  } finally {
    await h.close();
  }
});

test('after InSync, changes arrive as deltas; a pod becoming Succeeded removes its endpoint', async () => {
  const h = await harness();
  try {
    await h.converge('initial snapshot');
    const mark = h.updates.length;
    h.server.create('pods', pod('web-3', NODE, { ip: '10.65.1.4' }));
    await waitFor(() => h.model.has(wepKey('web-3')), 'web-3 added');
    h.server.patch('pods', 'default', 'web-3', { metadata: { labels: { app: 'web-3', tier: 'front' } } });
    await waitFor(() => (h.model.get(wepKey('web-3'))?.metadata.labels as Record<string, string> | undefined)?.tier === 'front', 'web-3 updated');
    h.server.patch('pods', 'default', 'web-3', { status: { phase: 'Succeeded' } });
    await waitFor(() => !h.model.has(wepKey('web-3')), 'web-3 gone after Succeeded');
    // A pod on another node and a host-network pod produce nothing.
    h.server.create('pods', pod('far-2', 'node-2', { ip: '10.65.2.3' }));
    h.server.create('pods', pod('hostnet-2', NODE, { ip: '198.18.0.1', hostNetwork: true }));
    h.server.patch('nodes', undefined, NODE, { metadata: { annotations: { 'projectcalico.org/IPv4Address': '198.18.0.7/24' } } });
    await waitFor(() => (h.model.get('Node/node-1') as { spec: { bgp?: { ipv4Address?: string } } }).spec.bgp?.ipv4Address === '198.18.0.7/24', 'node address change');
    await h.converge('after changes');
    const after = h.updates.slice(mark).map((u) => `${u.type} ${u.key}`);
    assert.deepEqual(after, [
      `add ${wepKey('web-3')}`,
      `update ${wepKey('web-3')}`,
      `delete ${wepKey('web-3')}`,
      'update Node/node-1',
    ]);
    assert.equal(h.syncer.status, 'InSync');
  } finally {
    await h.close();
  }
});

const listCount = (s: TestApiServer) => s.requests.filter((r) => r.method === 'GET' && !r.watch && !r.query.continue).length;

/** Updates after `mark`, as "type key" lines, sorted. */
function since(h: { updates: Array<{ type: string; key: string }> }, mark: number): string[] {
  return h.updates.slice(mark).map((u) => `${u.type} ${u.key}`).sort();
}

test('410 Gone as an ERROR event mid-stream: re-list, reconcile, only real differences reach consumers', async () => {
  const h = await harness();
  try {
    await h.converge('initial snapshot');
    await waitFor(() => h.server.activeWatches() > h.scopes.length, 'every watch open');
    const mark = h.updates.length;
    const lists = listCount(h.server);
    h.server.compact();
    assert.ok(h.server.breakWatchesWithGone() > 0);
    h.server.remove('pods', 'default', 'web-2');
    h.server.create('pods', pod('web-4', NODE, { ip: '10.65.1.5' }));
    await h.converge('after 410 mid-stream');
    assert.ok(listCount(h.server) > lists, 're-listed');
    assert.deepEqual(since(h, mark), [`add ${wepKey('web-4')}`, `delete ${wepKey('web-2')}`]);
    assert.ok(h.statuses.includes('ResyncInProgress'));
    assert.equal(h.statuses.at(-1), 'InSync');
  } finally {
    await h.close();
  }
});

for (const asHttp of [false, true]) {
  test(`resuming from a compacted revision (${asHttp ? 'HTTP 410' : '200 + ERROR 410 event'}): re-list, same final state`, async () => {
    // No bookmarks (interval longer than the test), so quiet scopes stay at their list revision.
    const server = await TestApiServer.start({ bookmarkIntervalMs: 600_000, tooOldWatchAsHttpStatus: asHttp });
    const { seed } = await import('./k8s-helpers.js');
    seed(server);
    const h = await harness({ server });
    try {
      await h.converge('initial snapshot');
      const mark = h.updates.length;
      const lists = listCount(server);
      server.create('pods', pod('web-5', NODE, { ip: '10.65.1.6' }));
      await waitFor(() => h.model.has(wepKey('web-5')), 'web-5');
      server.create('ippools.crd.projectcalico.org', { metadata: { name: 'pool-b' }, spec: { cidr: '10.66.0.0/16' } });
      server.compact();
      server.dropWatches();
      server.remove('pods', 'default', 'web-1');
      await h.converge('after compaction');
      assert.ok(listCount(server) > lists, 're-listed');
      assert.deepEqual(since(h, mark), ['add IPPool/pool-b', `add ${wepKey('web-5')}`, `delete ${wepKey('web-1')}`]);
    } finally {
      await h.close();
      await server.stop();
    }
  });
}

test('a stream closed abruptly: resume from the last resourceVersion, no re-list, nothing lost', async () => {
  const h = await harness();
  try {
    await h.converge('initial snapshot');
    const lists = listCount(h.server);
    const mark = h.updates.length;
    assert.ok(h.server.dropWatches() > 0);
    h.server.patch('pods', 'default', 'web-1', { metadata: { labels: { app: 'web-1', v: '2' } } });
    h.server.create('namespaces', { metadata: { name: 'extra' } });
    await h.converge('after abrupt close');
    assert.equal(listCount(h.server), lists, 'no re-list');
    assert.deepEqual(since(h, mark), ['add Profile/kns.extra', `update ${wepKey('web-1')}`]);
  } finally {
    await h.close();
  }
});

test('lists that fail (500, 503) are retried until they succeed, during start-up and during a re-list', async () => {
  const h = await harness({ start: false });
  try {
    h.server.failNextLists(3, 500);
    h.syncer.start();
    await h.converge('initial snapshot despite failing lists');
    h.server.failNextLists(4, 503);
    h.server.compact();
    h.server.breakWatchesWithGone();
    h.server.create('pods', pod('web-6', NODE, { ip: '10.65.1.8' }));
    await h.converge('re-list despite failing lists');
  } finally {
    await h.close();
  }
});

test('bookmarks: a reconnect resumes from the bookmark revision, so compaction of older history costs no re-list', async () => {
  const server = await TestApiServer.start({ bookmarkIntervalMs: 100 });
  const { seed } = await import('./k8s-helpers.js');
  seed(server);
  const h = await harness({ server });
  try {
    await h.converge('initial snapshot');
    // Move the revision on with changes no felix scope sees, then let bookmarks carry every
    // watch past them.
    for (let i = 0; i < 5; i++) server.create('configmaps', { metadata: { name: `cm-${i}`, namespace: 'default' } });
    const target = server.revision;
    await new Promise((r) => setTimeout(r, 400));
    const lists = listCount(server);
    const poolWatches = () => server.requests.filter((r) => r.watch && r.path === '/apis/crd.projectcalico.org/v1/ippools');
    const before = poolWatches().length;
    server.compact(target);
    server.dropWatches();
    server.create('pods', pod('web-7', NODE, { ip: '10.65.1.10' }));
    await waitFor(() => poolWatches().length > before && server.activeWatches() >= h.scopes.length, 'every watch reopened');
    await h.converge('after reconnect');
    assert.equal(listCount(server), lists, 'no re-list: watches resumed at or after the compaction point');
    const resumed = poolWatches().at(-1)!;
    assert.ok(Number(resumed.query.resourceVersion) >= target, `ippools resumed from ${resumed.query.resourceVersion}, bookmark was at ${target}`);
  } finally {
    await h.close();
    await server.stop();
  }
});

test('an expired continue token restarts the paged list; the result is complete and consistent', async () => {
  const h = await harness({ start: false, backend: { pageSize: 2 } });
  try {
    let compactions = 0;
    h.server.onRequest = (r) => {
      if (r.path === '/api/v1/pods' && !r.watch && r.query.continue && compactions === 0) {
        compactions++;
        h.server.create('pods', pod('web-8', NODE, { ip: '10.65.1.11' }));
        h.server.compact();
      }
    };
    h.syncer.start();
    await h.converge('snapshot through a 410 on continue');
    assert.equal(compactions, 1);
    const podLists = h.server.requests.filter((r) => r.path === '/api/v1/pods' && !r.watch && !r.query.continue);
    assert.ok(podLists.length >= 2, 'the pod list started over');
    assert.ok(h.model.has(wepKey('web-8')));
    // The Profile scope's second collection is read at the first one's revision.
    const sa = h.server.requests.find((r) => r.path === '/api/v1/serviceaccounts' && !r.watch)!;
    assert.equal(sa.query.resourceVersionMatch, 'Exact');
  } finally {
    await h.close();
  }
});

test('a stream that goes silent is declared dead and replaced; changes made meanwhile arrive', async () => {
  const h = await harness({ backend: { watchSilenceMs: 1_000 } });
  try {
    await h.converge('initial snapshot');
    await waitFor(() => h.server.activeWatches('pods') > 0, 'pods watch open');
    assert.ok(h.server.stallWatches('pods') > 0);
    h.server.create('pods', pod('web-9', NODE, { ip: '10.65.1.12' }));
    await h.converge('after a silent stream');
    assert.ok(h.model.has(wepKey('web-9')));
  } finally {
    await h.close();
  }
});

test('watches the server ends normally (timeoutSeconds) are reopened quietly, without errors or re-lists', async () => {
  const h = await harness({ backend: { watchTimeoutSeconds: { min: 2, max: 2 } } });
  try {
    await h.converge('initial snapshot');
    const lists = listCount(h.server);
    const watches = h.server.requests.filter((r) => r.watch).length;
    await new Promise((r) => setTimeout(r, 2_500));
    h.server.create('pods', pod('web-10', NODE, { ip: '10.65.1.13' }));
    await h.converge('after timeouts');
    assert.ok(h.server.requests.filter((r) => r.watch).length >= watches * 2, 'every watch was reopened');
    assert.equal(listCount(h.server), lists);
    assert.equal(h.syncer.health().lostSince, undefined);
    assert.deepEqual(h.statuses.filter((s) => s !== 'InSync').length, 2, 'never left InSync');
  } finally {
    await h.close();
  }
});

test('BGP syncer: only this node\'s BlockAffinities (filtered client-side)', async () => {
  const h = await harness({ scopes: bgpScopes(NODE), name: 'bgp' });
  try {
    await h.converge('bgp snapshot');
    const affinities = () => [...h.model.keys()].filter((k) => k.startsWith('BlockAffinity/')).sort();
    assert.deepEqual(affinities(), [`BlockAffinity/${NODE}-10-65-1-0-26`]);
    h.server.create('blockaffinities.crd.projectcalico.org', { metadata: { name: 'node-2-10-65-3-0-26' }, spec: { node: 'node-2', cidr: '10.65.3.0/26', state: 'confirmed' } });
    h.server.create('blockaffinities.crd.projectcalico.org', { metadata: { name: `${NODE}-10-65-4-0-26` }, spec: { node: NODE, cidr: '10.65.4.0/26', state: 'confirmed' } });
    await h.converge('bgp after changes');
    assert.deepEqual(affinities(), [`BlockAffinity/${NODE}-10-65-1-0-26`, `BlockAffinity/${NODE}-10-65-4-0-26`]);
    assert.ok(!h.updates.some((u) => u.key.includes('node-2-10-65')));
  } finally {
    await h.close();
  }
});

test('a list that hangs times out and is retried (no silent stall)', async () => {
  const server = await TestApiServer.start({ bookmarkIntervalMs: 200 });
  const { seed } = await import('./k8s-helpers.js');
  seed(server);
  const { KubeClient } = await import('../../src/datastore/k8s/client.js');
  const h = await harness({ server, start: false, backend: { client: KubeClient.forServer(server.url, { requestTimeoutMs: 300 }) } });
  try {
    server.delayMs = 1_000;
    h.syncer.start();
    await waitFor(() => h.syncer.health().lostSince !== undefined, 'the hanging list is noticed');
    assert.equal(h.syncer.status, 'WaitForDatastore');
    server.delayMs = 0;
    await h.converge('after the server answers again');
    assert.equal(h.syncer.health().lostSince, undefined);
  } finally {
    await h.close();
    await server.stop();
  }
});

test('a malformed pod is rejected on its own; the watch and everything else go on', async () => {
  const h = await harness();
  try {
    await h.converge('initial snapshot');
    h.server.create('pods', { metadata: { name: 'bad-1', namespace: 'default' }, spec: { nodeName: NODE }, status: { podIPs: 'oops' } });
    h.server.create('pods', { metadata: { name: 'bad-2', namespace: 'default' }, spec: { nodeName: NODE }, status: { podIP: '10.65.1.999' } });
    h.server.create('pods', pod('good-1', NODE, { ip: '10.65.1.20' }));
    await waitFor(() => h.model.has(wepKey('good-1')), 'good pod after bad ones');
    assert.ok(!h.model.has(wepKey('bad-1')) && !h.model.has(wepKey('bad-2')));
    // Fixing the bad pod makes it appear.
    h.server.patch('pods', 'default', 'bad-2', { status: { podIP: '10.65.1.21' } });
    await waitFor(() => h.model.has(wepKey('bad-2')), 'fixed pod');
    await h.converge('after bad input');
  } finally {
    await h.close();
  }
});

test('list() (the non-streaming form) restarts by itself after an expired continue token', async () => {
  const server = await TestApiServer.start();
  const { seed } = await import('./k8s-helpers.js');
  seed(server);
  const { K8sBackend } = await import('../../src/datastore/k8s/backend.js');
  const { KubeClient } = await import('../../src/datastore/k8s/client.js');
  const backend = new K8sBackend({ client: KubeClient.forServer(server.url), nodeName: NODE, pageSize: 1 });
  try {
    let done = false;
    server.onRequest = (r) => {
      if (!done && r.path === '/api/v1/namespaces' && r.query.continue) {
        done = true;
        server.create('namespaces', { metadata: { name: 'late' } });
        server.compact();
      }
    };
    const res = await backend.list({ kind: 'Profile' });
    assert.ok(done);
    const names = res.items.map((i) => i.key).sort();
    assert.deepEqual(names, ['Profile/kns.default', 'Profile/kns.kube-system', 'Profile/kns.late', 'Profile/ksa.default.default', 'Profile/ksa.default.web']);
    assert.equal(res.revision, String(server.revision));
  } finally {
    await backend.close();
    await server.stop();
  }
});

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
    // Pods are requested for this node only; every other kind cluster-wide.
    const podReqs = h.server.requests.filter((r) => r.path === '/api/v1/pods');
    assert.ok(podReqs.length >= 2);
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

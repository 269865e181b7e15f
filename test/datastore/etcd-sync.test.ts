/**
 * The felix and BGP syncers against a real etcd 3.4 holding resources in calicoctl's exact format:
 * the reported set, the Calico resource values, the felix_* metrics, and invalid resources (each
 * logged with kind/name, field path and problem, counted, and harmless to the valid ones around it).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { createLogger } from '../../src/util/log.js';
import { ResourceCache } from '../../src/datastore/cache.js';
import { EtcdBackend } from '../../src/datastore/etcd/backend.js';
import { bgpScopes, felixScopes } from '../../src/datastore/syncer.js';
import { WatcherSyncer } from '../../src/datastore/watchersyncer.js';
import { BGP_NODE1_KEYS, FELIX_KEYS, FIXTURES } from './fixtures.js';
import { startEtcdPair, waitFor, type EtcdPair } from './helpers.js';

let pair: EtcdPair;
before(async () => {
  pair = await startEtcdPair('sync');
});
after(async () => {
  await pair?.cleanup();
});

function logCapture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination: stream }) };
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

test('etcd: felix and bgp syncers report calicoctl-written resources; metrics count them', async () => {
  for (const [k, v] of FIXTURES) await pair.etcdctl('put', k, v);
  const registry = new Registry();
  const backend = new EtcdBackend({ config: { endpoints: [pair.unixEndpoint] } });
  const felix = new WatcherSyncer({ name: 'felix', backend, scopes: felixScopes('etcdv3'), registry });
  const bgp = new WatcherSyncer({ name: 'bgp', backend, scopes: bgpScopes('node-1'), registry });
  const fc = new ResourceCache().attach(felix);
  const bc = new ResourceCache().attach(bgp);
  const updatesBeforeInSync: number[] = [];
  felix.onStatus((s) => s === 'InSync' && updatesBeforeInSync.push(fc.size));
  try {
    felix.start();
    bgp.start();
    await waitFor(() => felix.status === 'InSync' && bgp.status === 'InSync', { timeoutMs: 20_000, what: 'both syncers InSync' });
    assert.deepEqual([...fc.snapshot().keys()].sort(), FELIX_KEYS);
    assert.deepEqual([...bc.snapshot().keys()].sort(), BGP_NODE1_KEYS);
    assert.deepEqual(updatesBeforeInSync, [FELIX_KEYS.length], 'complete snapshot before InSync');

    // Values in Calico's shape, with Calico's defaults and the key-derived identity.
    const pool = fc.getResource('IPPool', 'vxlan-pool')!;
    assert.equal(pool.spec.blockSize, 26);
    assert.equal(pool.spec.vxlanMode, 'CrossSubnet');
    assert.equal(pool.spec.nodeSelector, "zone == 'a'");
    const wep = fc.getResource('WorkloadEndpoint', 'node--1-k8s-web--0-eth0', 'default')!;
    assert.deepEqual(wep.spec.ipNetworks, ['10.65.1.2/32']);
    assert.equal(wep.spec.ports?.[0]?.port, 8080);
    const block = fc.getResource('IPAMBlock', '10-65-1-0-26')!;
    assert.equal(block.spec.affinity, 'host:node-1');
    assert.equal(block.spec.allocations.filter((a) => a !== null).length, 2);
    const aff = bc.getResource('BlockAffinity', 'node-1-10-65-1-0-26')!;
    assert.deepEqual({ node: aff.spec.node, cidr: aff.spec.cidr, state: aff.spec.state }, { node: 'node-1', cidr: '10.65.1.0/26', state: 'confirmed' });
    assert.equal(bc.getResource('BGPConfiguration', 'default')?.spec.nodeToNodeMeshEnabled, false);

    assert.equal(await metricValue(registry, 'felix_resync_state'), 3);
    assert.equal(await metricValue(registry, 'felix_resyncs_started'), 1);
    assert.equal(await metricValue(registry, 'felix_cluster_num_hosts'), 2);
    assert.equal(await metricValue(registry, 'felix_cluster_num_workload_endpoints'), 2);
    assert.equal(await metricValue(registry, 'felix_cluster_num_host_endpoints'), 1);
    assert.equal(await metricValue(registry, 'felix_cluster_num_policies'), 2);
    assert.equal(await metricValue(registry, 'felix_cluster_num_profiles'), 1);

    // Deltas: an update, a delete, an affinity for another node (not for this BGP syncer).
    await pair.etcdctl('del', '/calico/resources/v3/projectcalico.org/workloadendpoints/kube-system/node--2-k8s-coredns--abc-eth0');
    await pair.etcdctl('put', '/calico/ipam/v2/host/node-2/ipv4/block/10.66.3.0-26', '{"state":"pending","deleted":false}');
    await pair.etcdctl('put', '/calico/ipam/v2/host/node-1/ipv4/block/10.65.9.0-26', '{"state":"pending","deleted":false}');
    await waitFor(() => fc.size === FELIX_KEYS.length - 1 && bc.size === BGP_NODE1_KEYS.length + 1, { timeoutMs: 10_000, what: 'deltas' });
    assert.equal(await metricValue(registry, 'felix_cluster_num_workload_endpoints'), 1);
    assert.equal(fc.violations + bc.violations, 0);
  } finally {
    await felix.stop();
    await bgp.stop();
    await backend.close();
    await pair.etcdctl('del', '--prefix', '/calico');
  }
});

test('etcd: invalid resources are logged with path and problem, counted, and harm nothing else', async () => {
  const R = '/calico/resources/v3/projectcalico.org';
  const pool = (name: string, spec: string) => `{"kind":"IPPool","apiVersion":"projectcalico.org/v3","metadata":{"name":"${name}"},"spec":${spec}}`;
  const longName = 'x'.repeat(254);
  await pair.etcdctl('put', `${R}/ippools/good-before`, pool('good-before', '{"cidr":"10.1.0.0/16"}'));
  await pair.etcdctl('put', `${R}/ippools/bad-cidr`, pool('bad-cidr', '{"cidr":"10.0.0.0/33"}'));
  await pair.etcdctl('put', `${R}/ippools/bad-mode`, pool('bad-mode', '{"cidr":"10.2.0.0/16","ipipMode":"Sometimes"}'));
  await pair.etcdctl('put', `${R}/ippools/bad-selector`, pool('bad-selector', `{"cidr":"10.3.0.0/16","nodeSelector":"zone = 'a'"}`));
  await pair.etcdctl('put', `${R}/ippools/${longName}`, pool(longName, '{"cidr":"10.4.0.0/16"}'));
  await pair.etcdctl('put', `${R}/ippools/bad-type`, pool('bad-type', '{"cidr":"10.5.0.0/16","natOutgoing":"yes"}'));
  await pair.etcdctl('put', `${R}/ippools/not-json`, '{"kind":"IPPool",');
  await pair.etcdctl('put', `${R}/ippools/good-after`, pool('good-after', '{"cidr":"10.6.0.0/16"}'));
  await pair.etcdctl('put', `${R}/nodes/bad-node`, '{"kind":"Node","apiVersion":"projectcalico.org/v3","metadata":{"name":"bad-node"},"spec":{"bgp":{"ipv4Address":"300.1.1.1/24"}}}');
  const registry = new Registry();
  const { lines, logger } = logCapture();
  const backend = new EtcdBackend({ config: { endpoints: [pair.unixEndpoint] } });
  const felix = new WatcherSyncer({ name: 'felix', backend, scopes: felixScopes('etcdv3'), registry, logger });
  const cache = new ResourceCache().attach(felix);
  try {
    felix.start();
    await waitFor(() => felix.status === 'InSync', { timeoutMs: 20_000, what: 'InSync' });
    assert.deepEqual([...cache.snapshot().keys()].sort(), ['IPPool/good-after', 'IPPool/good-before']);
    const warn = (frag: string) => lines.filter((l) => l.level === 40 && String(l.msg).includes(frag));
    assert.equal(warn('invalid IPPool/bad-cidr: spec.cidr: "10.0.0.0/33" is not a valid CIDR').length, 1);
    assert.equal(warn('invalid IPPool/bad-mode: spec.ipipMode: "Sometimes" is not one of Never, Always, CrossSubnet').length, 1);
    assert.equal(warn(`invalid IPPool/bad-selector: spec.nodeSelector: invalid selector "zone = 'a'"`).length, 1);
    assert.equal(warn(`invalid IPPool/${longName}: metadata.name: is 254 characters long; at most 253 allowed`).length, 1);
    assert.equal(warn('invalid IPPool/bad-type: spec.natOutgoing: expected boolean, got "yes"').length, 1);
    assert.equal(warn('invalid IPPool/not-json: (value): value at /calico/resources/v3/projectcalico.org/ippools/not-json is not JSON').length, 1);
    assert.equal(warn('invalid Node/bad-node: spec.bgp.ipv4Address: "300.1.1.1/24" is not a valid IPv4 address or CIDR').length, 1);
    const structured = lines.find((l) => l.resource === 'IPPool/bad-cidr')!;
    assert.deepEqual([structured.field, structured.problem], ['spec.cidr', '"10.0.0.0/33" is not a valid CIDR']);
    assert.equal(await metricValue(registry, 'tortie_datastore_invalid_resources_total', { kind: 'IPPool' }), 6);
    assert.equal(await metricValue(registry, 'tortie_datastore_invalid_resources_total', { kind: 'Node' }), 1);

    // A valid resource turned invalid is a deletion; fixed again, it is an add.
    const seen: string[] = [];
    felix.onUpdates((b) => seen.push(...b.map((u) => `${u.type} ${u.key}`)));
    await pair.etcdctl('put', `${R}/ippools/good-before`, pool('good-before', '{"cidr":"10.1.0.1/16"}'));
    await waitFor(() => seen.length === 1, { timeoutMs: 10_000, what: 'delete of the now-invalid pool' });
    assert.deepEqual(seen, ['delete IPPool/good-before']);
    assert.equal(warn('invalid IPPool/good-before: spec.cidr: "10.1.0.1/16" has host bits set (did you mean 10.1.0.0/16?) (treated as a deletion').length, 1);
    await pair.etcdctl('put', `${R}/ippools/good-before`, pool('good-before', '{"cidr":"10.1.0.0/16"}'));
    await waitFor(() => seen.length === 2, { timeoutMs: 10_000, what: 'pool re-added' });
    assert.deepEqual(seen, ['delete IPPool/good-before', 'add IPPool/good-before']);
    assert.equal(felix.status, 'InSync');
    assert.equal(cache.violations, 0);
  } finally {
    await felix.stop();
    await backend.close();
    await pair.etcdctl('del', '--prefix', '/calico');
  }
});

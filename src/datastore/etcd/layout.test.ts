import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalKeyOfBytes, decodeEtcdKv, decodeEtcdValue, parseEtcdKey, scopePrefix } from './layout.js';
import { prefixEnd } from './backend.js';

test('etcd layout: prefixes of scopes', () => {
  assert.equal(scopePrefix({ kind: 'IPPool' }), '/calico/resources/v3/projectcalico.org/ippools/');
  assert.equal(scopePrefix({ kind: 'WorkloadEndpoint' }), '/calico/resources/v3/projectcalico.org/workloadendpoints/');
  assert.equal(scopePrefix({ kind: 'IPAMBlock' }), '/calico/ipam/v2/assignment/');
  assert.equal(scopePrefix({ kind: 'BlockAffinity', node: 'node-1' }), '/calico/ipam/v2/host/node-1/');
  assert.throws(() => scopePrefix({ kind: 'KubernetesNetworkPolicy' }));
});

test('etcd layout: keys to canonical keys', () => {
  assert.deepEqual(parseEtcdKey('WorkloadEndpoint', '/calico/resources/v3/projectcalico.org/workloadendpoints/default/node--1-k8s-a-eth0'), {
    key: 'WorkloadEndpoint/default/node--1-k8s-a-eth0', name: 'node--1-k8s-a-eth0', namespace: 'default',
  });
  assert.equal(parseEtcdKey('WorkloadEndpoint', '/calico/resources/v3/projectcalico.org/workloadendpoints/no-namespace'), undefined);
  assert.equal(parseEtcdKey('IPPool', '/calico/resources/v3/projectcalico.org/ippools/a/b'), undefined);
  assert.deepEqual(parseEtcdKey('IPAMBlock', '/calico/ipam/v2/assignment/ipv6/block/fd00:10:65::-122'), {
    key: 'IPAMBlock/fd00-10-65---122', name: 'fd00-10-65---122', cidr: 'fd00:10:65::/122',
  });
  assert.deepEqual(parseEtcdKey('BlockAffinity', '/calico/ipam/v2/host/node-1/ipv4/block/10.65.1.0-26'), {
    key: 'BlockAffinity/node-1-10-65-1-0-26', name: 'node-1-10-65-1-0-26', node: 'node-1', cidr: '10.65.1.0/26',
  });
});

test('etcd layout: values become the CRD shape; the key is authoritative', () => {
  const aff = decodeEtcdValue('BlockAffinity', '/calico/ipam/v2/host/', '/calico/ipam/v2/host/node-1/ipv4/block/10.65.1.0-26', '{"state":"confirmed","deleted":false}', '7');
  assert.deepEqual(aff.value, {
    apiVersion: 'projectcalico.org/v3', kind: 'BlockAffinity',
    metadata: { name: 'node-1-10-65-1-0-26', resourceVersion: '7' },
    spec: { state: 'confirmed', deleted: false, node: 'node-1', cidr: '10.65.1.0/26' },
  });
  const p = '/calico/resources/v3/projectcalico.org/ippools/';
  const pool = decodeEtcdValue('IPPool', p, `${p}pool-a`, '{"kind":"IPPool","metadata":{"name":"other"},"spec":{}}', '9');
  assert.deepEqual((pool.value as { metadata: unknown }).metadata, { name: 'pool-a', resourceVersion: '9' });
  assert.match(decodeEtcdValue('IPPool', p, `${p}x`, '{not json', '3').decodeError ?? '', /not JSON/);
  assert.match(decodeEtcdValue('IPPool', p, `${p}x`, '[1]', '3').decodeError ?? '', /not a JSON object/);
  assert.equal(decodeEtcdValue('IPPool', p, `${p}a/b`, '{}', '3').key, 'IPPool/a/b');
});

test('prefixEnd', () => {
  assert.deepEqual(prefixEnd(Buffer.from('/a/')), Buffer.from('/a0'));
  assert.deepEqual(prefixEnd(Buffer.from([0x61, 0xff])), Buffer.from([0x62]));
});

test('etcd layout: keys and values as bytes decode as their text forms do', () => {
  const p = '/calico/resources/v3/projectcalico.org/workloadendpoints/';
  const key = `${p}ns-1/node--1-k8s-pod--1-eth0`;
  const raw = '{"kind":"WorkloadEndpoint","metadata":{"name":"x"},"spec":{"node":"node-1"}}';
  const fromBytes = decodeEtcdKv('WorkloadEndpoint', p, Buffer.from(key), Buffer.from(raw), '12');
  const fromText = decodeEtcdValue('WorkloadEndpoint', p, key, raw, '12');
  assert.equal(fromBytes.key, 'WorkloadEndpoint/ns-1/node--1-k8s-pod--1-eth0');
  assert.deepEqual(fromBytes.value, fromText.value);
  assert.deepEqual((fromBytes.value as { metadata: unknown }).metadata, { name: 'node--1-k8s-pod--1-eth0', namespace: 'ns-1', resourceVersion: '12' });
  assert.equal(canonicalKeyOfBytes('WorkloadEndpoint', Buffer.from(key), p), fromBytes.key);
  // Off the layout: the fallback key and a decode error, as from text.
  const off = decodeEtcdKv('WorkloadEndpoint', p, Buffer.from(`${p}no-namespace`), Buffer.from('{}'), '3');
  assert.equal(off.key, 'WorkloadEndpoint/no-namespace');
  assert.match(off.decodeError ?? '', /does not follow Calico's layout/);
  // A node-scoped BlockAffinity prefix: identity from the kind's prefix, fallback from the scope's.
  const ap = '/calico/ipam/v2/host/node-1/';
  const aff = decodeEtcdKv('BlockAffinity', ap, Buffer.from(`${ap}ipv4/block/10.65.1.0-26`), Buffer.from('{"state":"confirmed"}'), '7');
  assert.equal(aff.key, 'BlockAffinity/node-1-10-65-1-0-26');
  assert.equal(canonicalKeyOfBytes('BlockAffinity', Buffer.from(`${ap}junk`), ap), 'BlockAffinity/junk');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { k8sNodeToCalico, parseASNumber } from './node.js';

test('Node annotations become the Calico Node fields', () => {
  const n = k8sNodeToCalico({
    metadata: {
      name: 'node-1',
      resourceVersion: '12',
      labels: { 'kubernetes.io/hostname': 'node-1', rack: 'a' },
      annotations: {
        'projectcalico.org/IPv4Address': '198.18.0.11/24',
        'projectcalico.org/IPv6Address': 'fd00:1::11/64',
        'projectcalico.org/IPv4IPIPTunnelAddr': '10.65.1.0',
        'projectcalico.org/IPv4VXLANTunnelAddr': '10.65.1.1',
        'projectcalico.org/VXLANTunnelMACAddr': '66:aa:bb:cc:dd:ee',
        'projectcalico.org/ASNumber': '64513',
        'projectcalico.org/RouteReflectorClusterID': '224.0.0.1',
        'projectcalico.org/labels': '{"rack":"calico-value","calico-only":"yes"}',
      },
    },
    spec: { podCIDRs: ['10.244.1.0/24'] },
    status: {
      addresses: [
        { type: 'InternalIP', address: '198.18.0.11' },
        { type: 'Hostname', address: 'node-1' },
        { type: 'ExternalIP', address: '203.0.113.9' },
      ],
    },
  });
  assert.deepEqual(n, {
    apiVersion: 'projectcalico.org/v3',
    kind: 'Node',
    metadata: { name: 'node-1', resourceVersion: '12', labels: { 'kubernetes.io/hostname': 'node-1', rack: 'a', 'calico-only': 'yes' } },
    spec: {
      orchRefs: [{ nodeName: 'node-1', orchestrator: 'k8s' }],
      bgp: {
        ipv4Address: '198.18.0.11/24',
        ipv6Address: 'fd00:1::11/64',
        ipv4IPIPTunnelAddr: '10.65.1.0',
        asNumber: 64513,
        routeReflectorClusterID: '224.0.0.1',
      },
      ipv4VXLANTunnelAddr: '10.65.1.1',
      vxlanTunnelMACAddr: '66:aa:bb:cc:dd:ee',
      addresses: [
        { address: '198.18.0.11/24', type: 'CalicoNodeIP' },
        { address: 'fd00:1::11/64', type: 'CalicoNodeIP' },
        { address: '198.18.0.11', type: 'InternalIP' },
        { address: '203.0.113.9', type: 'ExternalIP' },
      ],
    },
    status: { podCIDRs: ['10.244.1.0/24'] },
  });
});

test('bad annotations are dropped one by one, each with a warning; the rest survives', () => {
  const warnings: string[] = [];
  const n = k8sNodeToCalico(
    {
      metadata: {
        name: 'n2',
        annotations: {
          'projectcalico.org/IPv4Address': '198.18.0.12', // not CIDR form
          'projectcalico.org/ASNumber': '99999999999',
          'projectcalico.org/VXLANTunnelMACAddr': 'zz:zz',
          'projectcalico.org/IPv4VXLANTunnelAddr': '10.65.2.1',
        },
      },
    },
    { warn: (m) => warnings.push(m) },
  );
  assert.equal(n.spec.bgp, undefined);
  assert.equal(n.spec.vxlanTunnelMACAddr, undefined);
  assert.equal(n.spec.ipv4VXLANTunnelAddr, '10.65.2.1');
  assert.equal(warnings.length, 3);
  assert.ok(warnings.every((w) => w.includes('n2')));
});

test('AS numbers: plain and asdot', () => {
  assert.equal(parseASNumber('64512'), 64512);
  assert.equal(parseASNumber('1.10'), 65546);
  assert.equal(parseASNumber('4294967295'), 4294967295);
  assert.equal(parseASNumber('4294967296'), undefined);
  assert.equal(parseASNumber('70000.1'), undefined);
  assert.equal(parseASNumber('-1'), undefined);
});

test('host-local IPAM: the IPIP tunnel address is the first address of spec.podCIDR', () => {
  const n = k8sNodeToCalico({ metadata: { name: 'n3' }, spec: { podCIDR: '10.244.3.0/24' } }, { usePodCIDR: true });
  assert.equal(n.spec.bgp?.ipv4IPIPTunnelAddr, '10.244.3.1');
});

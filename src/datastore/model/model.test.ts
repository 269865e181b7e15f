import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bigIntToIp, ipToBigInt, parseCidr } from './common.js';
import { resolveBgpConfiguration, parsePeerIP } from './network.js';
import { canonicalKey, kindFromUserInput, parseCanonicalKey, validateResource, type Problem } from './index.js';

const v3 = (kind: string, name: string, spec: unknown, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'projectcalico.org/v3',
  kind,
  metadata: { name, ...extra },
  spec,
});
function problems(kind: Parameters<typeof validateResource>[0], value: unknown): string[] {
  const r = validateResource(kind, value);
  return r.ok ? [] : r.problems.map((p: Problem) => `${p.path}: ${p.message}`);
}

test('IPPool: Calico defaults are applied', () => {
  const r = validateResource('IPPool', v3('IPPool', 'default-ipv4-ippool', { cidr: '10.65.0.0/16' }));
  assert.ok(r.ok);
  assert.deepEqual(
    { ...r.resource.spec },
    { cidr: '10.65.0.0/16', ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: false, disabled: false, disableBGPExport: false, blockSize: 26, nodeSelector: 'all()', allowedUses: ['Workload', 'Tunnel'] },
  );
  const v6 = validateResource('IPPool', v3('IPPool', 'v6', { cidr: 'fd00:10:65::/48', vxlanMode: 'CrossSubnet' }));
  assert.ok(v6.ok);
  assert.equal(v6.resource.spec.blockSize, 122);
  assert.equal(v6.resource.spec.vxlanMode, 'CrossSubnet');
});

test('IPPool: every problem is reported with its path', () => {
  assert.deepEqual(problems('IPPool', v3('IPPool', 'p', { cidr: '10.0.0.0/33' })), ['spec.cidr: "10.0.0.0/33" is not a valid CIDR']);
  assert.deepEqual(problems('IPPool', v3('IPPool', 'p', { cidr: '10.0.0.1/16' })), ['spec.cidr: "10.0.0.1/16" has host bits set (did you mean 10.0.0.0/16?)']);
  assert.deepEqual(problems('IPPool', v3('IPPool', 'p', { cidr: '10.0.0.0/16', ipipMode: 'Sometimes', blockSize: 12, nodeSelector: "a = 'b'" })), [
    'spec.ipipMode: "Sometimes" is not one of Never, Always, CrossSubnet',
    `spec.nodeSelector: invalid selector "a = 'b'": unexpected character "=" at offset 2`,
  ]);
  assert.deepEqual(problems('IPPool', v3('IPPool', 'p', { cidr: '10.0.0.0/16', blockSize: 12 })), ['spec.blockSize: 12 is out of range for IPv4 (20-32)']);
  assert.deepEqual(problems('IPPool', v3('IPPool', 'p', { cidr: '10.0.0.0/24', blockSize: 22 })), ["spec.blockSize: 22 is shorter than the pool's prefix /24"]);
  assert.deepEqual(problems('IPPool', v3('IPPool', 'p', { cidr: '10.0.0.0/16', ipipMode: 'Always', vxlanMode: 'Always' })), ['spec.ipipMode: ipipMode and vxlanMode cannot both be enabled']);
  assert.deepEqual(problems('IPPool', v3('IPPool', 'p', { cidr: '10.0.0.0/16', natOutgoing: 'true' })), ['spec.natOutgoing: expected boolean, got "true"']);
  assert.deepEqual(problems('IPPool', v3('IPPool', 'x'.repeat(254), { cidr: '10.0.0.0/16' })), ['metadata.name: is 254 characters long; at most 253 allowed']);
  assert.deepEqual(problems('IPPool', v3('IPPool', 'Bad_Name', { cidr: '10.0.0.0/16' }))[0]?.startsWith('metadata.name: "Bad_Name" is not a DNS-1123 subdomain'), true);
  assert.deepEqual(problems('IPPool', { kind: 'IPPool', metadata: { name: 'p' } }), ['spec: is required (object)']);
});

test('Node, BGPConfiguration, BGPPeer', () => {
  assert.deepEqual(problems('Node', v3('Node', 'node-1', { bgp: { ipv4Address: '198.18.0.2/24', asNumber: 64512, ipv4IPIPTunnelAddr: '10.65.1.1' }, vxlanTunnelMACAddr: '66:aa:bb:cc:dd:ee' })), []);
  assert.deepEqual(problems('Node', v3('Node', 'node-1', { bgp: { ipv4Address: 'fd00::1/64' } })), ['spec.bgp.ipv4Address: "fd00::1/64" is not a valid IPv4 address or CIDR']);
  assert.deepEqual(problems('BGPConfiguration', v3('BGPConfiguration', 'default', { asNumber: 4294967296 })), ['spec.asNumber: 4294967296 is not a valid AS number (0-4294967295 or asdot X.Y)']);
  assert.deepEqual(problems('BGPConfiguration', v3('BGPConfiguration', 'default', { listenPort: 0 })), ['spec.listenPort: port must be 1-65535']);
  assert.deepEqual(resolveBgpConfiguration(undefined, undefined), { nodeToNodeMeshEnabled: true, asNumber: 64512, listenPort: 179 });
  assert.deepEqual(resolveBgpConfiguration({ nodeToNodeMeshEnabled: false, asNumber: 65000 }, { listenPort: 1179 }), { nodeToNodeMeshEnabled: false, asNumber: 65000, listenPort: 1179 });
  assert.deepEqual(problems('BGPPeer', v3('BGPPeer', 'rr', { peerIP: '198.18.0.10:1790', asNumber: '1.10' })), []);
  const asdot = validateResource('BGPPeer', v3('BGPPeer', 'rr', { peerIP: '198.18.0.10', asNumber: '1.10' }));
  assert.ok(asdot.ok && asdot.resource.spec.asNumber === 65546);
  assert.deepEqual(problems('BGPPeer', v3('BGPPeer', 'x', { peerIP: '198.18.0.300', asNumber: 1 })), ['spec.peerIP: "198.18.0.300" is not an IP or IP:port']);
  assert.deepEqual(problems('BGPPeer', v3('BGPPeer', 'x', { peerSelector: 'has(rr)', peerIP: '1.2.3.4', asNumber: 1 })), ['spec.peerSelector: peerSelector cannot be combined with peerIP or asNumber']);
  assert.deepEqual(parsePeerIP('[fd00::1]:179'), { ip: 'fd00::1', port: 179 });
});

test('IPAMBlock and BlockAffinity in CRD shape', () => {
  const block = { cidr: '10.65.1.0/26', affinity: 'host:node-1', allocations: [0, null], unallocated: [1], attributes: [{ handle_id: 'h', secondary: { node: 'node-1' } }], deleted: false };
  assert.deepEqual(problems('IPAMBlock', v3('IPAMBlock', '10-65-1-0-26', block)), []);
  assert.deepEqual(problems('IPAMBlock', v3('IPAMBlock', '10-65-1-0-26', { ...block, affinity: 'node-1' })), ['spec.affinity: "node-1" is not of the form host:<node>']);
  const aff = validateResource('BlockAffinity', v3('BlockAffinity', 'node-1-10-65-1-0-26', { node: 'node-1', cidr: '10.65.1.0/26', state: 'confirmed', deleted: 'false' }));
  assert.ok(aff.ok && aff.resource.spec.deleted === false);
  assert.deepEqual(problems('BlockAffinity', v3('BlockAffinity', 'n', { node: 'n', cidr: '10.65.1.0/26', state: 'maybe' })).length, 1);
});

test('WorkloadEndpoint names, interfaces and ports', () => {
  const wep = {
    orchestrator: 'k8s', node: 'node-1', pod: 'pod-a', endpoint: 'eth0', interfaceName: 'cali1234567890a',
    ipNetworks: ['10.65.1.5/32'], profiles: ['kns.default'], ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
  };
  assert.deepEqual(problems('WorkloadEndpoint', v3('WorkloadEndpoint', 'node--1-k8s-pod--a-eth0', wep, { namespace: 'default' })), []);
  assert.deepEqual(problems('WorkloadEndpoint', v3('WorkloadEndpoint', 'node--1-k8s-pod--a-eth0', { ...wep, interfaceName: 'cali1234567890abc', ipNetworks: ['10.65.1.500/32'] }, { namespace: 'default' })), [
    'spec.ipNetworks[0]: "10.65.1.500/32" is not a valid CIDR',
    'spec.interfaceName: interface names are at most 15 characters',
  ]);
});

test('policy: rules, selectors, ports', () => {
  const gnp = v3('GlobalNetworkPolicy', 'allow-dns', {
    selector: "has(app)", order: 100, types: ['Egress'],
    egress: [{ action: 'Allow', protocol: 'UDP', destination: { ports: [53, '1000:2000', 'dns'], nets: ['10.96.0.10/32'] } }],
  });
  assert.deepEqual(problems('GlobalNetworkPolicy', gnp), []);
  assert.deepEqual(problems('GlobalNetworkPolicy', v3('GlobalNetworkPolicy', 'x', { egress: [{ action: 'Permit', destination: { ports: ['2000:1000'], selector: 'a ==' } }] })), [
    'spec.egress[0].action: Invalid option: expected one of "Allow"|"Deny"|"Log"|"Pass"',
    'spec.egress[0].destination.selector: invalid selector "a ==": expected a quoted string after \'==\' but found end of selector at offset 4',
    'spec.egress[0].destination.ports[0]: "2000:1000" is not a valid port range',
  ]);
  assert.deepEqual(problems('NetworkPolicy', v3('NetworkPolicy', 'np', { selector: 'all()' })), ['metadata.namespace: is required (string)']);
});

test('IP helpers', () => {
  assert.equal(bigIntToIp(6, ipToBigInt('fd00:0:0:0:0:0:0:1')!.value), 'fd00::1');
  assert.equal(bigIntToIp(6, ipToBigInt('::ffff:10.0.0.1')!.value), '::ffff:a00:1');
  assert.equal(parseCidr('fd00::1/64')?.network, 'fd00::/64');
  assert.equal(parseCidr('fd00::1/64')?.hostBitsSet, true);
  assert.equal(parseCidr('10.0.0.0/8/1'), undefined);
  assert.equal(parseCidr('10.0.0.0/-1'), undefined);
});

test('canonical keys and kind names', () => {
  assert.equal(canonicalKey('WorkloadEndpoint', 'w', 'ns'), 'WorkloadEndpoint/ns/w');
  assert.deepEqual(parseCanonicalKey('IPPool/p'), { kind: 'IPPool', name: 'p' });
  assert.equal(parseCanonicalKey('Bogus/p'), undefined);
  assert.equal(kindFromUserInput('ippools'), 'IPPool');
  assert.equal(kindFromUserInput('workloadendpoint'), 'WorkloadEndpoint');
  assert.equal(kindFromUserInput('nope'), undefined);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { annotationPatch } from './node-writer.js';
import type { StoredNode } from '../../node/startup.js';

const node = (spec: StoredNode['spec']): StoredNode => ({ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name: 'n' }, spec });

test('annotationPatch: only changed owned fields; a removed field is null; unowned fields never appear', () => {
  const before = node({ bgp: { ipv4Address: '198.18.0.1/24', asNumber: 64512, routeReflectorClusterID: '1.0.0.1' }, ipv4VXLANTunnelAddr: '10.65.0.1', vxlanTunnelMACAddr: '66:00:00:00:00:01' });
  const after = node({ bgp: { ipv4Address: '198.18.0.2/24', asNumber: 64512, routeReflectorClusterID: '9.9.9.9' }, vxlanTunnelMACAddr: '66:00:00:00:00:01' });
  assert.deepEqual(annotationPatch(before, after), {
    'projectcalico.org/IPv4Address': '198.18.0.2/24',
    'projectcalico.org/IPv4VXLANTunnelAddr': null,
  });
});

test('annotationPatch: AS number as decimal text; nothing changed gives an empty patch', () => {
  const a = node({});
  const b = node({ bgp: { asNumber: 4200000000, ipv4IPIPTunnelAddr: '10.66.0.1' } });
  assert.deepEqual(annotationPatch(a, b), { 'projectcalico.org/ASNumber': '4200000000', 'projectcalico.org/IPv4IPIPTunnelAddr': '10.66.0.1' });
  assert.deepEqual(annotationPatch(b, structuredClone(b)), {});
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterState } from '../cluster.js';
import type { CalcMessage } from '../calculator.js';
import { HostSets } from './host-sets.js';

function state(): ClusterState {
  const s = new ClusterState('n1');
  const put = (kind: string, key: string, value: unknown) => s.apply([{ type: 'add', kind, key, value } as never]);
  put('IPPool', 'IPPool/a', { metadata: { name: 'a' }, spec: { cidr: '10.65.0.0/16', natOutgoing: true, disabled: false } });
  put('IPPool', 'IPPool/b', { metadata: { name: 'b' }, spec: { cidr: '10.66.0.0/16', natOutgoing: false, disabled: false } });
  put('Node', 'Node/n1', { metadata: { name: 'n1' }, spec: { bgp: { ipv4Address: '198.18.0.1/24' }, ipv4VXLANTunnelAddr: '10.65.0.1' } });
  put('Node', 'Node/n2', { metadata: { name: 'n2' }, spec: { bgp: { ipv4Address: '198.18.0.2/24' } } });
  return s;
}

test('pools and nodes become Felix\'s four host sets, emitted only when they change', () => {
  const s = state();
  const calc = new HostSets();
  const out: CalcMessage[] = [];
  calc.recompute(s, undefined, (m) => out.push(m));
  const byId = new Map(out.map((m) => [m.type === 'ipset-update' ? m.id : '', m.type === 'ipset-update' ? m.members : []]));
  assert.deepEqual(byId.get('all-ipam-pools'), ['10.65.0.0/16', '10.66.0.0/16']);
  assert.deepEqual(byId.get('masq-ipam-pools'), ['10.65.0.0/16']);
  assert.deepEqual(byId.get('all-hosts-net'), ['198.18.0.1', '198.18.0.2']);
  assert.deepEqual(byId.get('all-vxlan-net'), ['198.18.0.1']);
  const again: CalcMessage[] = [];
  calc.recompute(s, undefined, (m) => again.push(m));
  assert.equal(again.length, 0);
});

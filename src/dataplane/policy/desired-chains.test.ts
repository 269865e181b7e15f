import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyBody, TierInfo, WorkloadEndpointBody } from '../../proto/policy.js';
import { DesiredChains } from './desired-chains.js';
import { gnp, np, parsedRule } from '../rules/test-helpers.js';
import { ruleTargets } from '../rules/index.js';

const body = (over: Partial<PolicyBody> = {}): PolicyBody => ({ inboundRules: [parsedRule()], outboundRules: [], untracked: false, preDnat: false, applyOnForward: false, ...over });

function wep(name: string, tiers: TierInfo[] = []): WorkloadEndpointBody {
  return { state: 'active', name, profileIds: ['kns.default'], ipv4Nets: ['10.65.0.5/32'], ipv6Nets: [], tiers };
}

const names = (d: ReturnType<DesiredChains['flush']>, t: 'filter' | 'nat' | 'raw' | 'mangle') => (d.updates.get(t) ?? []).map((c) => c.name).sort();

test('the first flush holds the static chains, their hooks, empty dispatch and an empty nat-outgoing', () => {
  const d = new DesiredChains(4, {});
  const f = d.flush();
  const filter = names(f, 'filter');
  for (const n of ['cali-FORWARD', 'cali-INPUT', 'cali-OUTPUT', 'cali-from-wl-dispatch', 'cali-to-wl-dispatch', 'cali-from-host-endpoint', 'cali-to-host-endpoint']) assert.ok(filter.includes(n), n);
  assert.ok(names(f, 'nat').includes('cali-nat-outgoing'));
  assert.ok((f.hooks ?? []).some((h) => h.table === 'filter' && h.chain === 'FORWARD'));
  // Nothing changed: the next flush is empty.
  const again = d.flush();
  assert.equal(again.updates.size, 0);
  assert.equal(again.removals.size, 0);
  assert.equal(again.hooks, undefined);
});

test('every chain a desired chain or hook jumps to is desired too (iptables-restore refuses a jump to a missing chain)', () => {
  const d = new DesiredChains(4, {});
  const hooks = d.flush().hooks ?? [];
  d.setWorkload('k8s/default.a/eth0', wep('cali12345'));
  d.flush();
  for (const [table, chains] of d.all()) {
    const have = new Set(chains.map((c) => c.name));
    const rules = [...chains.flatMap((c) => c.rules), ...hooks.filter((h) => h.table === table).flatMap((h) => h.rules)];
    // kns.default's profile chains come from a profile message this test does not send.
    const missing = [...new Set(rules.flatMap((r) => ruleTargets(r)))].filter((t) => !have.has(t) && !t.startsWith('cali-pri-') && !t.startsWith('cali-pro-'));
    assert.deepEqual(missing, [], `${table}: jumps to chains nobody renders`);
  }
});

test('a policy goes to the table its kind says; removing it removes its chains', () => {
  const d = new DesiredChains(4, {});
  d.flush();
  d.setPolicy(np('default', 'web'), body());
  d.setPolicy(gnp('untracked'), body({ untracked: true }));
  d.setPolicy(gnp('prednat'), body({ preDnat: true }));
  const f = d.flush();
  assert.deepEqual(names(f, 'filter'), ['cali-pi-np/default/web', 'cali-po-np/default/web']);
  assert.deepEqual(names(f, 'raw'), ['cali-pi-gnp/untracked', 'cali-po-gnp/untracked']);
  assert.deepEqual(names(f, 'mangle'), ['cali-pi-gnp/prednat', 'cali-po-gnp/prednat']);
  // The same policy again: nothing to write.
  d.setPolicy(np('default', 'web'), body());
  assert.equal(d.flush().updates.size, 0);
  d.removePolicy(np('default', 'web'));
  const r = d.flush();
  assert.deepEqual([...(r.removals.get('filter') ?? [])].sort(), ['cali-pi-np/default/web', 'cali-po-np/default/web']);
});

test('endpoints rebuild the dispatch chains; natOutgoing follows the masq pools', () => {
  const d = new DesiredChains(4, {});
  d.flush();
  d.setWorkload('k8s/default.a/eth0', wep('cali12345'));
  let f = d.flush();
  assert.ok(names(f, 'filter').includes('cali-tw-cali12345'));
  const dispatch = (f.updates.get('filter') ?? []).find((c) => c.name === 'cali-from-wl-dispatch');
  assert.ok(dispatch && JSON.stringify(dispatch.rules).includes('cali-fw-cali12345'));
  assert.deepEqual(d.workloadAddresses('k8s/default.a/eth0'), ['10.65.0.5']);
  d.removeWorkload('k8s/default.a/eth0');
  f = d.flush();
  assert.ok((f.removals.get('filter') ?? []).includes('cali-tw-cali12345'));
  assert.ok(names(f, 'filter').includes('cali-from-wl-dispatch'), 'dispatch rewritten without it');
  d.setNatOutgoing(true);
  f = d.flush();
  const nat = (f.updates.get('nat') ?? []).find((c) => c.name === 'cali-nat-outgoing');
  assert.equal(nat?.rules.length, 1);
});

test('a policy group shared by two endpoints stays until the last one goes', () => {
  const d = new DesiredChains(4, {});
  const tier: TierInfo = { name: 'default', ingressPolicies: [np('default', 'a'), np('default', 'b')], egressPolicies: [], defaultAction: 'Deny' };
  d.setPolicy(np('default', 'a'), body({ originalSelector: "app == 'x'" }));
  d.setPolicy(np('default', 'b'), body({ originalSelector: "app == 'x'" }));
  d.setWorkload('w1', wep('cali1', [tier]));
  d.setWorkload('w2', wep('cali2', [tier]));
  const group = names(d.flush(), 'filter').filter((n) => n.startsWith('cali-gi-'));
  assert.equal(group.length, 1);
  d.removeWorkload('w1');
  assert.ok(!(d.flush().removals.get('filter') ?? []).includes(group[0]!));
  d.removeWorkload('w2');
  assert.ok((d.flush().removals.get('filter') ?? []).includes(group[0]!));
});

test('IPv6 renders ip6tables chains from the same messages', () => {
  const d = new DesiredChains(6, {});
  d.setPolicy(np('default', 'web'), body({ inboundRules: [parsedRule({ srcNets: ['10.0.0.0/8'] }), parsedRule({ srcNets: ['fd00::/8'], ruleId: 'r1' })] }));
  const pi = (d.flush().updates.get('filter') ?? []).find((c) => c.name === 'cali-pi-np/default/web');
  const text = JSON.stringify(pi?.rules);
  assert.ok(text.includes('fd00::/8'));
  assert.ok(!text.includes('10.0.0.0/8'));
});

test('a host endpoint without an interface name is refused on its own; the others still render', () => {
  const d = new DesiredChains(4, {});
  const hep = (name: string) => ({ name, profileIds: [], tiers: [], untrackedTiers: [], preDnatTiers: [], forwardTiers: [], expectedIpv4Addrs: [], expectedIpv6Addrs: [] });
  assert.throws(() => d.setHost('ips-only', hep('')), /no interfaceName/);
  d.setHost('eth0', hep('eth0'));
  d.setHost('all', hep('*'));
  const f = d.flush();
  const filter = names(f, 'filter');
  assert.ok(filter.includes('cali-th-eth0'));
  assert.ok(filter.includes('cali-fh-any-interface-at-all'));
});

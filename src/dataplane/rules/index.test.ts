import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IptablesRuleRenderer, programmedChains, restoreTableText, type RuleRenderer, type Chain } from './index.js';
import { gnp, parsedRule } from './test-helpers.js';

const r: RuleRenderer<Chain> = new IptablesRuleRenderer({ workloadIfacePrefixes: ['cali'] });

test('a host endpoint has chains in filter, mangle and raw', () => {
  const hep = { name: 'eth0', profileIds: ['p'], tiers: [], untrackedTiers: [], preDnatTiers: [], forwardTiers: [], expectedIpv4Addrs: [], expectedIpv6Addrs: [] };
  const t = r.hostEndpointChains('eth0', hep, 4);
  assert.deepEqual(t.filter.map((c) => c.name), ['cali-th-eth0', 'cali-fh-eth0', 'cali-thfw-eth0', 'cali-fhfw-eth0']);
  assert.deepEqual(t.mangle.map((c) => c.name), ['cali-fh-eth0', 'cali-th-eth0']);
  assert.deepEqual(t.raw.map((c) => c.name), ['cali-th-eth0', 'cali-fh-eth0']);
});

test('a workload node, end to end: what Felix would program in filter', () => {
  const policy = gnp('allow-all');
  const ep = {
    state: 'active' as const,
    name: 'cali0a1b2c3d4e5',
    profileIds: ['kns.default'],
    ipv4Nets: ['10.244.0.5/32'],
    ipv6Nets: [],
    tiers: [{ name: 'default', ingressPolicies: [policy], egressPolicies: [], defaultAction: 'Deny' as const }],
  };
  const st = r.staticChains(4);
  const desired = [
    ...st.filter,
    ...r.workloadDispatchChains([ep.name], 4),
    ...r.workloadEndpointChains(ep, 4),
    ...r.policyChains(policy, { inboundRules: [parsedRule()], outboundRules: [], untracked: false, preDnat: false, applyOnForward: false }, 4),
    ...r.profileChains('kns.default', { inboundRules: [parsedRule()], outboundRules: [parsedRule()] }, 4),
    ...r.hostDispatchChains([], 4, { applyOnForward: true }),
  ];
  const names = programmedChains(desired, st.hooks).map((c) => c.name);
  assert.deepEqual(names, [
    'cali-FORWARD',
    'cali-INPUT',
    'cali-wl-to-host',
    'cali-OUTPUT',
    'cali-from-wl-dispatch',
    'cali-to-wl-dispatch',
    'cali-tw-cali0a1b2c3d4e5',
    'cali-fw-cali0a1b2c3d4e5',
    'cali-pi-gnp/allow-all',
    'cali-pri-kns.default',
    'cali-pro-kns.default',
    'cali-from-host-endpoint',
    'cali-to-host-endpoint',
    'cali-from-hep-forward',
    'cali-to-hep-forward',
  ]);
  // The egress policy chain exists in the model but nothing jumps to it.
  assert.ok(!names.includes('cali-po-gnp/allow-all'));
  const text = restoreTableText('filter', programmedChains(desired, st.hooks), st.hooks);
  assert.match(text, /^\*filter\n:cali-FORWARD - -\n/);
  assert.match(text, /\n-A cali-pi-gnp\/allow-all -m comment --comment "cali:[A-Za-z0-9_-]{16}" -m comment --comment "GlobalNetworkPolicy allow-all ingress" --jump MARK --set-mark 0x10000\/0x10000\n/);
  assert.match(text, /\n-I INPUT -m comment --comment "cali:Cz_u1IQiXIMmKD4c" --jump cali-INPUT\n/);
  assert.match(text, /\nCOMMIT\n$/);
});

test('nat-outgoing through the renderer', () => {
  assert.equal(r.natOutgoingChain(true, 4).rules.length, 1);
  assert.equal(r.natOutgoingChain(false, 6).rules.length, 0);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ParsedRule, PolicyBody } from '../../proto/policy.js';
import { chainHashes } from './hash.js';
import { renderPolicyChains, renderProfileChains } from './policy.js';
import { cfgWith, gnp, linesOf, np, parsedRule } from './test-helpers.js';

const cfg = cfgWith();

function body(inbound: Partial<ParsedRule>[], outbound: Partial<ParsedRule>[] = [], over: Partial<PolicyBody> = {}): PolicyBody {
  return { inboundRules: inbound.map((r) => parsedRule(r)), outboundRules: outbound.map((r) => parsedRule(r)), untracked: false, preDnat: false, applyOnForward: false, ...over };
}

test('a global policy: first rule carries the owner comment, the trailing RETURN is dropped', () => {
  const [inbound, outbound] = renderPolicyChains(gnp('allow-web'), body([{ protocol: 'tcp', dstPorts: [{ first: 80, last: 80 }] }]), 4, cfg);
  assert.deepEqual(linesOf(inbound!), [
    '-A cali-pi-gnp/allow-web -m comment --comment "GlobalNetworkPolicy allow-web ingress" -p tcp -m multiport --destination-ports 80 --jump MARK --set-mark 0x10000/0x10000',
  ]);
  // No outbound rules: the chain is the comment alone.
  assert.deepEqual(linesOf(outbound!), ['-A cali-po-gnp/allow-web -m comment --comment "GlobalNetworkPolicy allow-web egress"']);
});

test('a namespaced policy with several verdicts', () => {
  const id = np('prod', 'web');
  const [inbound] = renderPolicyChains(id, body([{ srcIpSetIds: ['s:frontend'] }, { action: 'log' }, { action: 'pass', protocol: 'udp' }, { action: 'deny' }]), 4, cfg);
  assert.deepEqual(linesOf(inbound!), [
    '-A cali-pi-np/prod/web -m comment --comment "NetworkPolicy prod/web ingress" -m set --match-set cali40s:frontend src --jump MARK --set-mark 0x10000/0x10000',
    '-A cali-pi-np/prod/web -m mark --mark 0x10000/0x10000 --jump RETURN',
    '-A cali-pi-np/prod/web --jump LOG --log-prefix "calico-packet: " --log-level 5',
    '-A cali-pi-np/prod/web -p udp --jump MARK --set-mark 0x20000/0x20000',
    '-A cali-pi-np/prod/web -m mark --mark 0x20000/0x20000 --jump RETURN',
    '-A cali-pi-np/prod/web --jump MARK --set-mark 0x40000/0x40000',
    '-A cali-pi-np/prod/web -m mark --mark 0x40000/0x40000 --jump DROP',
  ]);
});

test('a pass as the last rule keeps only its mark', () => {
  const [inbound] = renderPolicyChains(gnp('p'), body([{ action: 'pass' }]), 4, cfg);
  assert.deepEqual(linesOf(inbound!), ['-A cali-pi-gnp/p -m comment --comment "GlobalNetworkPolicy p ingress" --jump MARK --set-mark 0x20000/0x20000']);
});

test('rules of the other family leave only the comment', () => {
  const [, outbound] = renderPolicyChains(gnp('v6only'), body([], [{ ipVersion: 6 }, { dstNets: ['fd00::/8'] }]), 4, cfg);
  assert.deepEqual(linesOf(outbound!), ['-A cali-po-gnp/v6only -m comment --comment "GlobalNetworkPolicy v6only egress"']);
  const [, v6] = renderPolicyChains(gnp('v6only'), body([], [{ ipVersion: 6 }, { dstNets: ['fd00::/8'] }]), 6, cfg);
  assert.deepEqual(linesOf(v6!), [
    '-A cali-po-gnp/v6only -m comment --comment "GlobalNetworkPolicy v6only egress" --jump MARK --set-mark 0x10000/0x10000',
    '-A cali-po-gnp/v6only -m mark --mark 0x10000/0x10000 --jump RETURN',
    '-A cali-po-gnp/v6only --destination fd00::/8 --jump MARK --set-mark 0x10000/0x10000',
  ]);
});

test('staged policies get no chains', () => {
  assert.deepEqual(renderPolicyChains({ tier: 'default', kind: 'StagedGlobalNetworkPolicy', name: 'x' }, body([{}]), 4, cfg), []);
  assert.deepEqual(renderPolicyChains({ tier: 'default', kind: 'StagedNetworkPolicy', namespace: 'a', name: 'x' }, body([{}]), 4, cfg), []);
});

test('the owner comment follows the rule annotations', () => {
  const [inbound] = renderPolicyChains(gnp('a'), body([{ annotations: { owner: 'team-x' } }]), 4, cfg);
  assert.deepEqual(linesOf(inbound!), ['-A cali-pi-gnp/a -m comment --comment "owner=team-x" -m comment --comment "GlobalNetworkPolicy a ingress" --jump MARK --set-mark 0x10000/0x10000']);
});

test('profiles: the namespace profile of a real node (hash observed), an empty service-account profile', () => {
  const [inbound, outbound] = renderProfileChains('kns.kube-system', { inboundRules: [parsedRule()], outboundRules: [parsedRule()] }, 4, cfg);
  assert.deepEqual(linesOf(inbound!), ['-A cali-pri-kns.kube-system -m comment --comment "Profile kns.kube-system ingress" --jump MARK --set-mark 0x10000/0x10000']);
  assert.deepEqual(chainHashes(inbound!), ['J1TyxtHWd0qaBGK-']);
  assert.deepEqual(chainHashes(outbound!), ['tgOR2S8DVHZW3F1M']);

  const [empty] = renderProfileChains('ksa.kube-system.metrics-server', { inboundRules: [], outboundRules: [] }, 4, cfg);
  assert.equal(empty!.name, 'cali-pri-_CVSZITRyIpEmH8AB6H');
  assert.deepEqual(chainHashes(empty!), ['Jm7TmoNoWplOEka1']);
});

test('with flow logs a namespace profile reports its allow (layout of a v3.30 node)', () => {
  const fl = cfgWith({ flowLogsEnabled: true });
  const [inbound] = renderProfileChains('kns.mealie', { inboundRules: [parsedRule()], outboundRules: [] }, 4, fl);
  assert.deepEqual(linesOf(inbound!), [
    '-A cali-pri-kns.mealie -m comment --comment "Profile kns.mealie ingress" --jump MARK --set-mark 0x10000/0x10000',
    '-A cali-pri-kns.mealie -m mark --mark 0x10000/0x10000 --jump NFLOG --nflog-group 1 --nflog-prefix ARI0|kns.mealie --nflog-size 80',
  ]);
});

test('untracked policies never NFLOG', () => {
  const fl = cfgWith({ flowLogsEnabled: true });
  const [inbound] = renderPolicyChains(gnp('raw'), body([{ action: 'deny' }], [], { untracked: true }), 4, fl);
  assert.deepEqual(linesOf(inbound!), [
    '-A cali-pi-gnp/raw -m comment --comment "GlobalNetworkPolicy raw ingress" --jump MARK --set-mark 0x40000/0x40000',
    '-A cali-pi-gnp/raw -m mark --mark 0x40000/0x40000 --jump DROP',
  ]);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { HostEndpointBody, PolicyId, TierInfo, WorkloadEndpointBody } from '../../proto/policy.js';
import {
  renderHostEndpointFilterChains,
  renderHostEndpointMangleEgressChains,
  renderHostEndpointMangleIngressChains,
  renderHostEndpointRawChains,
  renderPolicyGroupChains,
  renderWorkloadEndpointChains,
} from './endpoint.js';
import { EndpointMarkMapper } from './marks.js';
import { cfgWith, gnp, linesOf, np } from './test-helpers.js';

const cfg = cfgWith();

function wep(over: Partial<WorkloadEndpointBody> = {}): WorkloadEndpointBody {
  return { state: 'active', name: 'cali1234', profileIds: [], ipv4Nets: ['10.0.0.1/32'], ipv6Nets: [], tiers: [], ...over };
}

function tier(name: string, ingress: PolicyId[], egress: PolicyId[] = [], defaultAction: 'Deny' | 'Pass' = 'Deny'): TierInfo {
  return { name, ingressPolicies: ingress, egressPolicies: egress, defaultAction };
}

const CT = [
  '-m conntrack --ctstate RELATED,ESTABLISHED --jump ACCEPT',
  '-m conntrack --ctstate INVALID --jump DROP',
  '--jump MARK --set-mark 0/0x30000',
];
const ENCAP_DROPS = [
  '-m comment --comment "Drop VXLAN encapped packets originating in workloads" -p 17 -m multiport --destination-ports 4789 --jump DROP',
  '-m comment --comment "Drop IPinIP encapped packets originating in workloads" -p 4 --jump DROP',
];
const NO_PROFILE = '-m comment --comment "Drop if no profiles matched" --jump DROP';
const lines = (chain: string, rules: string[]) => rules.map((r) => `-A ${chain} ${r}`);

test('a workload with no policy and no profile', () => {
  const [tw, fw, ...rest] = renderWorkloadEndpointChains(wep(), cfg);
  assert.deepEqual(rest, []);
  assert.deepEqual(linesOf(tw!), lines('cali-tw-cali1234', [...CT, NO_PROFILE]));
  assert.deepEqual(linesOf(fw!), lines('cali-fw-cali1234', [...CT, ...ENCAP_DROPS, NO_PROFILE]));
});

test('an administratively down workload only denies', () => {
  const [tw, fw] = renderWorkloadEndpointChains(wep({ state: 'inactive', tiers: [tier('default', [gnp('a')])], profileIds: ['p'] }), cfg);
  assert.deepEqual(linesOf(tw!), ['-A cali-tw-cali1234 -m comment --comment "Endpoint admin disabled" --jump DROP']);
  assert.deepEqual(linesOf(fw!), ['-A cali-fw-cali1234 -m comment --comment "Endpoint admin disabled" --jump DROP']);
});

test('tiers and profiles', () => {
  const ep = wep({
    profileIds: ['kns.prod', 'ksa.prod.default'],
    tiers: [tier('security', [gnp('sec-in')], [gnp('sec-out')], 'Pass'), tier('default', [np('prod', 'web'), gnp('allow-dns')], [])],
  });
  const [tw, fw] = renderWorkloadEndpointChains(ep, cfg);
  assert.deepEqual(
    linesOf(tw!),
    lines('cali-tw-cali1234', [
      ...CT,
      '-m comment --comment "Start of tier security" --jump MARK --set-mark 0/0x20000',
      '-m mark --mark 0/0x20000 --jump cali-pi-gnp/sec-in',
      '-m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
      '-m comment --comment "Start of tier default" --jump MARK --set-mark 0/0x20000',
      '-m mark --mark 0/0x20000 --jump cali-pi-np/prod/web',
      '-m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
      '-m mark --mark 0/0x20000 --jump cali-pi-gnp/allow-dns',
      '-m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
      '-m comment --comment "End of tier default. Drop if no policies passed packet" -m mark --mark 0/0x20000 --jump DROP',
      '--jump cali-pri-kns.prod',
      '-m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
      '--jump cali-pri-ksa.prod.default',
      '-m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
      NO_PROFILE,
    ]),
  );
  // Egress: only the security tier has policy, and it passes by default.
  assert.deepEqual(
    linesOf(fw!),
    lines('cali-fw-cali1234', [
      ...CT,
      ...ENCAP_DROPS,
      '-m comment --comment "Start of tier security" --jump MARK --set-mark 0/0x20000',
      '-m mark --mark 0/0x20000 --jump cali-po-gnp/sec-out',
      '-m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
      '--jump cali-pro-kns.prod',
      '-m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
      '--jump cali-pro-ksa.prod.default',
      '-m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
      NO_PROFILE,
    ]),
  );
});

test('staged policies are skipped; a tier of only staged policies does not drop', () => {
  const staged: PolicyId = { tier: 'default', kind: 'StagedNetworkPolicy', namespace: 'prod', name: 'trial' };
  const [tw, fw] = renderWorkloadEndpointChains(wep({ tiers: [tier('default', [staged, gnp('a')], [staged])] }), cfg);
  assert.deepEqual(
    linesOf(tw!).slice(3),
    lines('cali-tw-cali1234', [
      '-m comment --comment "Start of tier default" --jump MARK --set-mark 0/0x20000',
      '-m mark --mark 0/0x20000 --jump cali-pi-gnp/a',
      '-m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
      '-m comment --comment "End of tier default. Drop if no policies passed packet" -m mark --mark 0/0x20000 --jump DROP',
      NO_PROFILE,
    ]),
  );
  assert.deepEqual(linesOf(fw!).slice(5), lines('cali-fw-cali1234', ['-m comment --comment "Start of tier default" --jump MARK --set-mark 0/0x20000', NO_PROFILE]));
});

test('RETURN as the filter allow action flags established traffic first; the INVALID check can be off', () => {
  const c = cfgWith({ filterAllowAction: 'Return', disableConntrackInvalidCheck: true, filterDenyAction: 'Reject', allowVxlanPacketsFromWorkloads: true });
  const [, fw] = renderWorkloadEndpointChains(wep(), c);
  assert.deepEqual(
    linesOf(fw!),
    lines('cali-fw-cali1234', [
      '-m conntrack --ctstate RELATED,ESTABLISHED --jump MARK --set-mark 0x10000/0x10000',
      '-m conntrack --ctstate RELATED,ESTABLISHED --jump RETURN',
      '--jump MARK --set-mark 0/0x30000',
      '-m comment --comment "Reject IPinIP encapped packets originating in workloads" -p 4 --jump REJECT',
      '-m comment --comment "Reject if no profiles matched" --jump REJECT',
    ]),
  );
});

test('flow logs: NFLOG before the end-of-tier and final drops (layout of a v3.30 node)', () => {
  const c = cfgWith({ flowLogsEnabled: true });
  const [tw, fw] = renderWorkloadEndpointChains(wep({ profileIds: ['kns.mealie'], tiers: [tier('default', [gnp('a')], [gnp('b')], 'Pass')] }), c);
  assert.deepEqual(
    linesOf(tw!).slice(3),
    lines('cali-tw-cali1234', [
      '-m comment --comment "Start of tier default" --jump MARK --set-mark 0/0x20000',
      '-m mark --mark 0/0x20000 --jump cali-pi-gnp/a',
      '-m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
      '-m mark --mark 0/0x20000 --jump NFLOG --nflog-group 1 --nflog-prefix PPI|default --nflog-size 80',
      '--jump cali-pri-kns.mealie',
      '-m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
      '--jump NFLOG --nflog-group 1 --nflog-prefix DRI --nflog-size 80',
      NO_PROFILE,
    ]),
  );
  assert.equal(linesOf(fw!).at(-5), '-A cali-fw-cali1234 -m mark --mark 0/0x20000 --jump NFLOG --nflog-group 2 --nflog-prefix PPE|default --nflog-size 80');
  const [, fwDeny] = renderWorkloadEndpointChains(wep({ tiers: [tier('default', [], [gnp('b')])] }), c);
  assert.deepEqual(
    linesOf(fwDeny!).slice(-4),
    lines('cali-fw-cali1234', [
      '-m mark --mark 0/0x20000 --jump NFLOG --nflog-group 2 --nflog-prefix DPE|default --nflog-size 80',
      '-m comment --comment "End of tier default. Drop if no policies passed packet" -m mark --mark 0/0x20000 --jump DROP',
      '--jump NFLOG --nflog-group 2 --nflog-prefix DRE --nflog-size 80',
      NO_PROFILE,
    ]),
  );
});

function sha3Uid(selector: string, direction: string, ids: PolicyId[]): string {
  const h = createHash('sha3-224');
  for (const line of [selector, direction, String(ids.length), ...ids.map((p) => `{Name: ${p.name}, Namespace: ${p.namespace ?? ''}, Kind: ${p.kind}}`)]) h.update(line + '\n');
  return h.digest('base64url').slice(0, 20);
}

test('policy groups: consecutive policies with one selector share a chain', () => {
  const a = np('prod', 'a');
  const b = np('prod', 'b');
  const c = gnp('c');
  const selectors = new Map([
    [a, 'app == "web"'],
    [b, 'app == "web"'],
    [c, 'all()'],
  ]);
  const ctx = { selectorOf: (id: PolicyId) => selectors.get(id) };
  const tiers = [tier('default', [a, b, c])];
  const [tw] = renderWorkloadEndpointChains(wep({ tiers }), cfg, ctx);
  const group = `cali-gi-${sha3Uid('app == "web"', 'inbound', [a, b])}`;
  assert.deepEqual(
    linesOf(tw!).slice(3, 8),
    lines('cali-tw-cali1234', [
      '-m comment --comment "Start of tier default" --jump MARK --set-mark 0/0x20000',
      `-m mark --mark 0/0x20000 --jump ${group}`,
      '-m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
      '-m mark --mark 0/0x20000 --jump cali-pi-gnp/c',
      '-m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
    ]),
  );
  const groups = renderPolicyGroupChains(tiers, cfg, ctx);
  assert.deepEqual(groups.map(linesOf), [lines(group, ['--jump cali-pi-np/prod/a', '-m mark --mark 0/0x30000 --jump cali-pi-np/prod/b'])]);
});

test('a group chain returns on a verdict every five jumps', () => {
  const ids = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'].map((n) => gnp(n));
  const groups = renderPolicyGroupChains([tier('t', [], ids)], cfg, { selectorOf: () => 'all()' });
  const name = `cali-go-${sha3Uid('all()', 'outbound', ids)}`;
  assert.deepEqual(
    groups.map(linesOf),
    [
      lines(name, [
        '--jump cali-po-gnp/p1',
        '-m mark --mark 0/0x30000 --jump cali-po-gnp/p2',
        '-m mark --mark 0/0x30000 --jump cali-po-gnp/p3',
        '-m mark --mark 0/0x30000 --jump cali-po-gnp/p4',
        '-m mark --mark 0/0x30000 --jump cali-po-gnp/p5',
        '-m comment --comment "Return on verdict" -m mark ! --mark 0/0x30000 --jump RETURN',
        '--jump cali-po-gnp/p6',
        '-m mark --mark 0/0x30000 --jump cali-po-gnp/p7',
      ]),
    ],
  );
});

test('kube-proxy IPVS adds the set-endpoint-mark chain', () => {
  const c = cfgWith({ markMask: 0xffff0000, kubeIpvsSupportEnabled: true });
  const mapper = new EndpointMarkMapper(c.marks.endpoint, c.marks.nonCaliEndpoint);
  const chains = renderWorkloadEndpointChains(wep(), c, { endpointMarks: mapper });
  const mark = mapper.getEndpointMark('cali1234');
  assert.deepEqual(linesOf(chains[2]!), [`-A cali-sm-cali1234 --jump MARK --set-mark 0x${mark.toString(16)}/0xffe00000`]);
  assert.throws(() => renderWorkloadEndpointChains(wep(), c), /EndpointMarkMapper/);
});

function hep(over: Partial<HostEndpointBody> = {}): HostEndpointBody {
  return { name: 'eth0', profileIds: [], tiers: [], untrackedTiers: [], preDnatTiers: [], forwardTiers: [], expectedIpv4Addrs: [], expectedIpv6Addrs: [], ...over };
}

test('host endpoint, filter table: failsafes, normal and forward chains', () => {
  const h = hep({ profileIds: ['prof1'], tiers: [tier('default', [gnp('in')], [gnp('out')])], forwardTiers: [tier('default', [gnp('fwd-in')], [])] });
  const [th, fh, thfw, fhfw] = renderHostEndpointFilterChains('eth0', h, cfg);
  const policy = (dir: 'i' | 'o', name: string) => [
    '-m comment --comment "Start of tier default" --jump MARK --set-mark 0/0x20000',
    `-m mark --mark 0/0x20000 --jump cali-p${dir}-gnp/${name}`,
    '-m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
    '-m comment --comment "End of tier default. Drop if no policies passed packet" -m mark --mark 0/0x20000 --jump DROP',
  ];
  assert.deepEqual(
    linesOf(th!),
    lines('cali-th-eth0', [
      CT[0]!,
      CT[1]!,
      '--jump cali-failsafe-out',
      CT[2]!,
      ...policy('o', 'out'),
      '--jump cali-pro-prof1',
      '-m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
      NO_PROFILE,
    ]),
  );
  assert.deepEqual(linesOf(fh!).slice(0, 4), lines('cali-fh-eth0', [CT[0]!, CT[1]!, '--jump cali-failsafe-in', CT[2]!]));
  // Forward egress has no applicable tier in this direction but the list is not empty: no default allow.
  assert.deepEqual(linesOf(thfw!), lines('cali-thfw-eth0', [...CT]));
  assert.deepEqual(linesOf(fhfw!), lines('cali-fhfw-eth0', [...CT, ...policy('i', 'fwd-in')]));
  const [, , noFwd] = renderHostEndpointFilterChains('eth0', hep(), cfg);
  assert.deepEqual(
    linesOf(noFwd!),
    lines('cali-thfw-eth0', [
      ...CT,
      '-m comment --comment "Allow forwarded traffic by default" --jump MARK --set-mark 0x10000/0x10000',
      '-m comment --comment "Return for accepted forward traffic" --jump RETURN',
    ]),
  );
});

test('host endpoint, raw table: untracked policy NOTRACKs what it allows, no drops', () => {
  const [th, fh] = renderHostEndpointRawChains('eth0', hep({ untrackedTiers: [tier('default', [gnp('u')], [])], profileIds: ['ignored'] }), cfg);
  assert.deepEqual(linesOf(th!), lines('cali-th-eth0', ['--jump cali-failsafe-out', '--jump MARK --set-mark 0/0x30000']));
  assert.deepEqual(
    linesOf(fh!),
    lines('cali-fh-eth0', [
      '--jump cali-failsafe-in',
      '--jump MARK --set-mark 0/0x30000',
      '-m comment --comment "Start of tier default" --jump MARK --set-mark 0/0x20000',
      '-m mark --mark 0/0x20000 --jump cali-pi-gnp/u',
      '-m mark --mark 0x10000/0x10000 --jump NOTRACK',
      '-m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
    ]),
  );
});

test('host endpoint, mangle table: preDNAT ingress and DNAT-ed egress', () => {
  const h = hep({ profileIds: ['prof1'], preDnatTiers: [tier('default', [gnp('pre')], [])] });
  const [fh] = renderHostEndpointMangleIngressChains('eth0', h, cfg);
  assert.deepEqual(
    linesOf(fh!),
    lines('cali-fh-eth0', [
      CT[0]!,
      CT[1]!,
      '--jump cali-failsafe-in',
      CT[2]!,
      '-m comment --comment "Start of tier default" --jump MARK --set-mark 0/0x20000',
      '-m mark --mark 0/0x20000 --jump cali-pi-gnp/pre',
      '-m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
    ]),
  );
  const [th] = renderHostEndpointMangleEgressChains('eth0', h, cfg);
  assert.deepEqual(
    linesOf(th!),
    lines('cali-th-eth0', [
      '-m conntrack --ctstate RELATED,ESTABLISHED --jump MARK --set-mark 0x10000/0x10000',
      '-m conntrack --ctstate RELATED,ESTABLISHED --jump RETURN',
      CT[1]!,
      '--jump cali-failsafe-out',
      CT[2]!,
      '--jump cali-pro-prof1',
      '-m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
      NO_PROFILE,
    ]),
  );
});

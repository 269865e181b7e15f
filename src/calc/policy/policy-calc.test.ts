import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { validateResource, canonicalKey, type ResourceKind } from '../../datastore/model/index.js';
import type { Update } from '../../datastore/syncer.js';
import { policyKey, type PolicyMessage, type TierInfo } from '../../proto/policy.js';
import { PolicyCalculator } from './policy-calc.js';

// ---- fixtures -------------------------------------------------------------------------------

function add(kind: ResourceKind, value: Record<string, unknown>): Update {
  const v = validateResource(kind, { apiVersion: 'projectcalico.org/v3', kind, ...value });
  if (!v.ok) throw new Error(`fixture ${kind}: ${JSON.stringify(v.problems)}`);
  const md = value.metadata as { name: string; namespace?: string };
  return { type: 'add', kind, key: canonicalKey(kind, md.name, md.namespace), value: v.resource, revision: '1' };
}
const del = (u: Update): Update => ({ type: 'delete', kind: u.kind, key: u.key, revision: '2' });

const nsProfile = (ns: string, labels: Record<string, string> = {}) =>
  add('Profile', {
    metadata: { name: `kns.${ns}` },
    spec: {
      ingress: [{ action: 'Allow' }],
      egress: [{ action: 'Allow' }],
      labelsToApply: { 'pcns.projectcalico.org/name': ns, ...Object.fromEntries(Object.entries(labels).map(([k, v]) => [`pcns.${k}`, v])) },
    },
  });
const wep = (node: string, ns: string, pod: string, ip: string, labels: Record<string, string>, ports: unknown[] = []) =>
  add('WorkloadEndpoint', {
    metadata: { name: `${node}-k8s-${pod}-eth0`, namespace: ns, labels: { 'projectcalico.org/namespace': ns, 'projectcalico.org/orchestrator': 'k8s', ...labels } },
    spec: { node, orchestrator: 'k8s', pod, endpoint: 'eth0', interfaceName: `cali${pod.padEnd(11, '0')}`, ipNetworks: [`${ip}/32`], profiles: [`kns.${ns}`], ports },
  });
const np = (ns: string, name: string, spec: Record<string, unknown>) => add('NetworkPolicy', { metadata: { name, namespace: ns }, spec });
const gnp = (name: string, spec: Record<string, unknown>) => add('GlobalNetworkPolicy', { metadata: { name }, spec });

/** Calico's IP set id for a selector, computed here from the canonical text we expect. */
const selId = (canonical: string) => `s:${createHash('sha224').update(`s:${canonical}`).digest('base64url')}`;
const namedPortId = (sel: string, proto: string, port: string) =>
  `n:${createHash('sha224').update(`n:${sel},${proto},${port}`).digest('base64url')}`;

/** Applies messages to a model of what the dataplane would hold. */
class Model {
  ipsets = new Map<string, Set<string>>();
  policies = new Map<string, string>();
  profiles = new Map<string, string>();
  endpoints = new Map<string, string>();
  apply(msgs: readonly PolicyMessage[]): void {
    for (const m of msgs) {
      switch (m.type) {
        case 'ipset-update': this.ipsets.set(m.id, new Set(m.members)); break;
        case 'ipset-delta': {
          const s = this.ipsets.get(m.id);
          assert.ok(s, `delta for unknown set ${m.id}`);
          for (const r of m.removed) assert.ok(s.delete(r), `removed ${r} not in ${m.id}`);
          for (const a of m.added) { assert.ok(!s.has(a), `added ${a} already in ${m.id}`); s.add(a); }
          break;
        }
        case 'ipset-remove': assert.ok(this.ipsets.delete(m.id), `remove of unknown set ${m.id}`); break;
        case 'policy-update': this.policies.set(policyKey(m.id), JSON.stringify(m.policy)); break;
        case 'policy-remove': assert.ok(this.policies.delete(policyKey(m.id))); break;
        case 'profile-update': this.profiles.set(m.id, JSON.stringify(m.profile)); break;
        case 'profile-remove': assert.ok(this.profiles.delete(m.id)); break;
        case 'workload-endpoint-update': this.endpoints.set(`${m.id.workload}/${m.id.endpoint}`, JSON.stringify(m.endpoint)); break;
        case 'workload-endpoint-remove': assert.ok(this.endpoints.delete(`${m.id.workload}/${m.id.endpoint}`)); break;
        case 'host-endpoint-update': this.endpoints.set(m.id, JSON.stringify(m.endpoint)); break;
        case 'host-endpoint-remove': assert.ok(this.endpoints.delete(m.id)); break;
      }
    }
  }
  /** Every rule's IP set reference points at a set the model holds. */
  assertConsistent(): void {
    for (const [k, json] of [...this.policies, ...this.profiles]) {
      const refs = json.match(/"[sn]:[A-Za-z0-9_-]{38}"/g) ?? [];
      for (const r of refs) assert.ok(this.ipsets.has(JSON.parse(r) as string), `${k} uses ${r} which is not programmed`);
    }
  }
  snapshot(): string {
    const sorted = <V>(m: Map<string, V>) => [...m].sort(([a], [b]) => (a < b ? -1 : 1));
    return JSON.stringify({
      ipsets: sorted(this.ipsets).map(([k, v]) => [k, [...v].sort()]),
      policies: sorted(this.policies),
      profiles: sorted(this.profiles),
      endpoints: sorted(this.endpoints),
    });
  }
}

function calc(node = 'node-1') {
  const problems: string[] = [];
  const c = new PolicyCalculator({ nodeName: node, onProblem: (p) => problems.push(`${p.key}: ${p.message}`) });
  const model = new Model();
  const feed = (updates: Update[]) => {
    c.apply(updates);
    const msgs = c.flush();
    model.apply(msgs);
    model.assertConsistent();
    return msgs;
  };
  return { c, model, feed, problems };
}

const types = (msgs: readonly PolicyMessage[]) => msgs.map((m) => m.type);

// ---- the rules Calico's update processor writes ------------------------------------------------

const DB_SEL = `(projectcalico.org/namespace == "prod" && app == "db")`;

test('a namespaced policy: selector and rule selectors namespaced as Calico writes them, IP set named by its hash', () => {
  const { feed, model } = calc();
  const msgs = feed([
    nsProfile('prod'),
    wep('node-1', 'prod', 'web-1', '10.65.0.1', { app: 'web' }),
    wep('node-2', 'prod', 'db-1', '10.65.1.1', { app: 'db' }),
    wep('node-2', 'dev', 'db-2', '10.65.1.2', { app: 'db' }),
    np('prod', 'allow-db', { selector: "app == 'web'", egress: [{ action: 'Allow', protocol: 'TCP', destination: { selector: "app == 'db'", ports: [5432] } }] }),
  ]);
  // IP sets before rules, rules before endpoints.
  assert.deepEqual(types(msgs), ['ipset-update', 'profile-update', 'policy-update', 'workload-endpoint-update']);
  const set = msgs[0] as Extract<PolicyMessage, { type: 'ipset-update' }>;
  assert.equal(set.id, selId(DB_SEL));
  assert.deepEqual(set.members, ['10.65.1.1'], 'only the db pod of namespace prod');
  assert.equal(set.setType, 'net');
  const pol = msgs[2] as Extract<PolicyMessage, { type: 'policy-update' }>;
  assert.deepEqual(pol.id, { tier: 'default', kind: 'NetworkPolicy', namespace: 'prod', name: 'allow-db' });
  assert.equal(pol.policy.namespace, 'prod');
  assert.equal(pol.policy.inboundRules.length, 0);
  const r = pol.policy.outboundRules[0]!;
  assert.equal(r.action, 'allow');
  assert.equal(r.protocol, 'tcp');
  assert.deepEqual(r.dstPorts, [{ first: 5432, last: 5432 }]);
  assert.deepEqual(r.dstIpSetIds, [selId(DB_SEL)]);
  assert.deepEqual(r.srcIpSetIds, []);
  const ep = msgs[3] as Extract<PolicyMessage, { type: 'workload-endpoint-update' }>;
  assert.deepEqual(ep.id, { orchestrator: 'k8s', workload: 'prod/web-1', endpoint: 'eth0' });
  assert.deepEqual(ep.endpoint.tiers, [
    { name: 'default', ingressPolicies: [pol.id], egressPolicies: [pol.id], defaultAction: 'Deny' },
  ] satisfies TierInfo[], 'no types: ingress, and egress because it has egress rules');
  assert.deepEqual(ep.endpoint.profileIds, ['kns.prod']);
  assert.equal(model.ipsets.size, 1);
});

test('deltas only: a remote pod relabelled leaves the set, a new local pod adds one endpoint update', () => {
  const { feed } = calc();
  const db = wep('node-2', 'prod', 'db-1', '10.65.1.1', { app: 'db' });
  feed([nsProfile('prod'), wep('node-1', 'prod', 'web-1', '10.65.0.1', { app: 'web' }), db,
    np('prod', 'allow-db', { selector: "app == 'web'", egress: [{ action: 'Allow', destination: { selector: "app == 'db'" } }] })]);
  let msgs = feed([{ ...wep('node-2', 'prod', 'db-1', '10.65.1.1', { app: 'cache' }), type: 'update' }]);
  assert.deepEqual(msgs, [{ type: 'ipset-delta', id: selId(DB_SEL), added: [], removed: ['10.65.1.1'] }]);
  msgs = feed([wep('node-2', 'prod', 'db-3', '10.65.1.3', { app: 'db' })]);
  assert.deepEqual(msgs, [{ type: 'ipset-delta', id: selId(DB_SEL), added: ['10.65.1.3'], removed: [] }]);
  msgs = feed([wep('node-1', 'prod', 'web-2', '10.65.0.2', { app: 'web' })]);
  assert.deepEqual(types(msgs), ['workload-endpoint-update'], 'the policy is already active: only the new endpoint');
  msgs = feed([wep('node-1', 'prod', 'other', '10.65.0.3', { app: 'other' })]);
  assert.deepEqual(types(msgs), ['workload-endpoint-update']);
  assert.deepEqual((msgs[0] as Extract<PolicyMessage, { type: 'workload-endpoint-update' }>).endpoint.tiers, []);
});

test('a policy removed: endpoints first, then the policy, then its IP sets', () => {
  const { feed, model } = calc();
  const pol = np('prod', 'allow-db', { selector: "app == 'web'", egress: [{ action: 'Allow', destination: { selector: "app == 'db'" } }] });
  feed([nsProfile('prod'), wep('node-1', 'prod', 'web-1', '10.65.0.1', { app: 'web' }), pol]);
  const msgs = feed([del(pol)]);
  assert.deepEqual(types(msgs), ['workload-endpoint-update', 'policy-remove', 'ipset-remove']);
  assert.equal(model.policies.size, 0);
  assert.equal(model.ipsets.size, 0);
});

test('tiers by order then name, policies by order then name, no order last; Pass tiers keep their default action', () => {
  const { feed } = calc();
  const msgs = feed([
    nsProfile('prod'),
    wep('node-1', 'prod', 'web-1', '10.65.0.1', { app: 'web' }),
    add('Tier', { metadata: { name: 'security' }, spec: { order: 100 } }),
    add('Tier', { metadata: { name: 'platform' }, spec: { order: 100, defaultAction: 'Pass' } }),
    add('Tier', { metadata: { name: 'late' }, spec: {} }),
    gnp('sec-b', { tier: 'security', order: 10, selector: 'all()', ingress: [{ action: 'Deny' }] }),
    gnp('sec-a', { tier: 'security', order: 10, selector: 'all()', ingress: [{ action: 'Pass' }] }),
    gnp('sec-first', { tier: 'security', order: 1, selector: "app == 'web'", types: ['Egress'], egress: [{ action: 'Allow' }] }),
    gnp('sec-unordered', { tier: 'security', selector: 'all()', ingress: [{ action: 'Allow' }] }),
    gnp('plat', { tier: 'platform', selector: 'all()', ingress: [{ action: 'Allow' }] }),
    gnp('late-1', { tier: 'late', selector: 'all()', ingress: [{ action: 'Allow' }] }),
    np('prod', 'default-one', { order: 1000, selector: 'all()', ingress: [{ action: 'Allow' }] }),
    gnp('not-me', { tier: 'security', selector: "app == 'db'", ingress: [{ action: 'Allow' }] }),
  ]);
  const ep = msgs.find((m) => m.type === 'workload-endpoint-update') as Extract<PolicyMessage, { type: 'workload-endpoint-update' }>;
  const names = ep.endpoint.tiers.map((t) => ({ name: t.name, in: t.ingressPolicies.map((p) => p.name), out: t.egressPolicies.map((p) => p.name), action: t.defaultAction }));
  assert.deepEqual(names, [
    { name: 'platform', in: ['plat'], out: [], action: 'Pass' },
    { name: 'security', in: ['sec-a', 'sec-b', 'sec-unordered'], out: ['sec-first'], action: 'Deny' },
    { name: 'default', in: ['default-one'], out: [], action: 'Deny' },
    { name: 'late', in: ['late-1'], out: [], action: 'Deny' },
  ]);
  assert.equal(msgs.filter((m) => m.type === 'policy-update').length, 7, 'not-me selects no local endpoint: not active');
});

test('named ports: an ip-port set per (selector, protocol, port name), filtered by the positive selector', () => {
  const { feed } = calc();
  const msgs = feed([
    nsProfile('prod'),
    wep('node-1', 'prod', 'client', '10.65.0.9', { app: 'client' }),
    wep('node-2', 'prod', 'web-1', '10.65.1.1', { app: 'web' }, [{ name: 'http', protocol: 'TCP', port: 8080 }]),
    wep('node-2', 'prod', 'web-2', '10.65.1.2', { app: 'web' }, [{ name: 'http', protocol: 'UDP', port: 8080 }]),
    wep('node-2', 'prod', 'other', '10.65.1.3', { app: 'other' }, [{ name: 'http', protocol: 'TCP', port: 80 }]),
    np('prod', 'to-web', { selector: "app == 'client'", types: ['Egress'], egress: [{ action: 'Allow', protocol: 'TCP', destination: { selector: "app == 'web'", ports: ['http'] } }] }),
  ]);
  const web = `(projectcalico.org/namespace == "prod" && app == "web")`;
  const id = namedPortId(selId(web), 'tcp', 'http');
  const set = msgs.find((m) => m.type === 'ipset-update') as Extract<PolicyMessage, { type: 'ipset-update' }>;
  assert.equal(set.id, id);
  assert.equal(set.setType, 'ip-port');
  assert.deepEqual(set.members, ['10.65.1.1,tcp:8080']);
  const pol = msgs.find((m) => m.type === 'policy-update') as Extract<PolicyMessage, { type: 'policy-update' }>;
  const r = pol.policy.outboundRules[0]!;
  assert.deepEqual(r.dstNamedPortIpSetIds, [id]);
  assert.deepEqual(r.dstIpSetIds, [], 'the named port already filters by the selector');
  assert.equal(msgs.filter((m) => m.type === 'ipset-update').length, 1);
});

test('a profile an endpoint names but the datastore lacks: deny both ways, as Felix does', () => {
  const { feed } = calc();
  const msgs = feed([wep('node-1', 'ghost', 'p', '10.65.0.1', {})]);
  const prof = msgs.find((m) => m.type === 'profile-update') as Extract<PolicyMessage, { type: 'profile-update' }>;
  assert.equal(prof.id, 'kns.ghost');
  assert.deepEqual(prof.profile.inboundRules.map((r) => r.action), ['deny']);
  assert.deepEqual(prof.profile.outboundRules.map((r) => r.action), ['deny']);
});

test('namespaceSelector in a global policy rule: pcns. labels from the namespace profile, all() means any namespace', () => {
  const { feed } = calc();
  const msgs = feed([
    nsProfile('prod', { team: 'a' }),
    nsProfile('dev', { team: 'b' }),
    wep('node-1', 'prod', 'x', '10.65.0.1', {}),
    wep('node-2', 'prod', 'y', '10.65.1.1', {}),
    wep('node-2', 'dev', 'z', '10.65.1.2', {}),
    add('GlobalNetworkSet', { metadata: { name: 'ext', labels: { ext: 'yes' } }, spec: { nets: ['192.0.2.0/24'] } }),
    gnp('from-team-a', { selector: 'all()', ingress: [
      { action: 'Allow', source: { namespaceSelector: "team == 'a'" } },
      { action: 'Allow', source: { namespaceSelector: 'all()' } },
      { action: 'Allow', source: { selector: "ext == 'yes'" } },
    ] }),
  ]);
  const sets = new Map(msgs.filter((m) => m.type === 'ipset-update').map((m) => [m.id, m.members]));
  assert.deepEqual(sets.get(selId('pcns.team == "a"')), ['10.65.0.1', '10.65.1.1']);
  assert.deepEqual(sets.get(selId('has(projectcalico.org/namespace)')), ['10.65.0.1', '10.65.1.1', '10.65.1.2']);
  assert.deepEqual(sets.get(selId('ext == "yes"')), ['192.0.2.0/24']);
});

test('a namespace label change moves its pods in and out of namespaceSelector sets', () => {
  const { feed } = calc();
  feed([nsProfile('prod', { team: 'a' }), wep('node-1', 'prod', 'x', '10.65.0.1', {}), wep('node-2', 'prod', 'y', '10.65.1.1', {}),
    gnp('g', { selector: 'all()', ingress: [{ action: 'Allow', source: { namespaceSelector: "team == 'a'" } }] })]);
  const msgs = feed([{ ...nsProfile('prod', { team: 'b' }), type: 'update' }]);
  const delta = msgs.find((m) => m.type === 'ipset-delta') as Extract<PolicyMessage, { type: 'ipset-delta' }>;
  assert.deepEqual(delta, { type: 'ipset-delta', id: selId('pcns.team == "a"'), added: [], removed: ['10.65.0.1', '10.65.1.1'] });
});

test('replay: any order and batch split of the same updates ends in the same model', () => {
  const updates = [
    nsProfile('prod', { team: 'a' }), nsProfile('dev'),
    wep('node-1', 'prod', 'web-1', '10.65.0.1', { app: 'web' }, [{ name: 'http', protocol: 'TCP', port: 80 }]),
    wep('node-1', 'dev', 'web-2', '10.65.0.2', { app: 'web' }),
    wep('node-2', 'prod', 'db-1', '10.65.1.1', { app: 'db' }),
    wep('node-2', 'dev', 'db-2', '10.65.1.2', { app: 'db' }, [{ name: 'http', protocol: 'TCP', port: 8080 }]),
    add('Tier', { metadata: { name: 'security' }, spec: { order: 10 } }),
    np('prod', 'allow-db', { selector: "app == 'web'", egress: [{ action: 'Allow', destination: { selector: "app == 'db'", ports: ['http', 5432] } }] }),
    gnp('deny-dev', { tier: 'security', order: 5, selector: 'all()', ingress: [{ action: 'Deny', source: { namespaceSelector: "projectcalico.org/name == 'dev'" } }, { action: 'Pass' }] }),
    add('NetworkSet', { metadata: { name: 'office', namespace: 'prod', labels: { office: 'true' } }, spec: { nets: ['192.0.2.0/24'] } }),
    np('prod', 'office', { selector: 'all()', ingress: [{ action: 'Allow', source: { selector: "office == 'true'" } }] }),
  ];
  const ref = calc();
  ref.feed(updates);
  const want = ref.model.snapshot();
  let seed = 11;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let trial = 0; trial < 60; trial++) {
    const shuffled = [...updates].sort(() => rnd() - 0.5);
    const cuts = [Math.floor(rnd() * updates.length), Math.floor(rnd() * updates.length)].sort((a, b) => a - b);
    const c = calc();
    let i = 0;
    for (const cut of [...cuts, updates.length]) {
      c.feed(shuffled.slice(i, cut));
      i = Math.max(i, cut);
    }
    assert.equal(c.model.snapshot(), want, `trial ${trial}`);
  }
});

test('unenforced match fields are reported, not silently dropped', () => {
  const { feed, problems } = calc();
  feed([nsProfile('prod'), wep('node-1', 'prod', 'w', '10.65.0.1', {}),
    np('prod', 'http-only', { selector: 'all()', ingress: [{ action: 'Allow', http: { methods: ['GET'] } }] })]);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /NetworkPolicy\/prod\/http-only: rule matches on http/);
});

test('IPv6: endpoint addresses land in the same selector set as host addresses, endpoints split their nets by family', () => {
  const { feed } = calc();
  const msgs = feed([
    nsProfile('prod'),
    add('WorkloadEndpoint', {
      metadata: { name: 'node-1-k8s-v6-eth0', namespace: 'prod', labels: { 'projectcalico.org/namespace': 'prod', app: 'db' } },
      spec: { node: 'node-1', orchestrator: 'k8s', pod: 'v6', endpoint: 'eth0', interfaceName: 'cali6000000000a', ipNetworks: ['10.65.0.7/32', 'fd00:10::7/128'], profiles: ['kns.prod'] },
    }),
    gnp('v6', { selector: 'all()', ingress: [{ action: 'Allow', ipVersion: 6, protocol: 'ICMPv6', icmp: { type: 128, code: 0 }, source: { selector: "app == 'db'", notNets: ['fd00:dead::/32'] } }] }),
  ]);
  const set = msgs.find((m) => m.type === 'ipset-update') as Extract<PolicyMessage, { type: 'ipset-update' }>;
  assert.deepEqual(set.members, ['10.65.0.7', 'fd00:10::7']);
  const ep = msgs.find((m) => m.type === 'workload-endpoint-update') as Extract<PolicyMessage, { type: 'workload-endpoint-update' }>;
  assert.deepEqual(ep.endpoint.ipv4Nets, ['10.65.0.7/32']);
  assert.deepEqual(ep.endpoint.ipv6Nets, ['fd00:10::7/128']);
  const r = (msgs.find((m) => m.type === 'policy-update') as Extract<PolicyMessage, { type: 'policy-update' }>).policy.inboundRules[0]!;
  assert.equal(r.ipVersion, 6);
  assert.equal(r.protocol, 'icmpv6');
  assert.deepEqual(r.icmp, { type: 128, code: 0 });
  assert.deepEqual(r.notSrcNets, ['fd00:dead::/32']);
});

test('a policy added: its IP sets, itself and the endpoints it selects, nothing else', () => {
  const { feed } = calc();
  feed([nsProfile('prod'), wep('node-1', 'prod', 'a', '10.65.0.1', { app: 'web' }), wep('node-1', 'prod', 'b', '10.65.0.2', { app: 'other' }),
    np('prod', 'first', { selector: 'all()', ingress: [{ action: 'Allow' }] })]);
  const msgs = feed([np('prod', 'second', { selector: "app == 'web'", ingress: [{ action: 'Allow', source: { selector: "app == 'other'" } }] })]);
  assert.deepEqual(types(msgs), ['ipset-update', 'policy-update', 'workload-endpoint-update']);
  assert.deepEqual((msgs[2] as Extract<PolicyMessage, { type: 'workload-endpoint-update' }>).id.workload, 'prod/a');
});

test('host endpoints: doNotTrack and preDNAT policies in their own tier lists, never on workloads', () => {
  const { feed } = calc();
  const msgs = feed([
    nsProfile('prod'),
    wep('node-1', 'prod', 'a', '10.65.0.1', { role: 'x' }),
    add('HostEndpoint', { metadata: { name: 'node-1-eth0', labels: { role: 'x' } }, spec: { node: 'node-1', interfaceName: 'eth0', expectedIPs: ['198.18.0.11'] } }),
    gnp('untracked', { selector: "role == 'x'", doNotTrack: true, applyOnForward: true, ingress: [{ action: 'Allow' }] }),
    gnp('prednat', { selector: "role == 'x'", preDNAT: true, applyOnForward: true, ingress: [{ action: 'Deny' }] }),
    gnp('normal', { selector: "role == 'x'", applyOnForward: true, ingress: [{ action: 'Allow' }] }),
  ]);
  const hep = msgs.find((m) => m.type === 'host-endpoint-update') as Extract<PolicyMessage, { type: 'host-endpoint-update' }>;
  const names = (ts: readonly TierInfo[]) => ts.flatMap((t) => t.ingressPolicies.map((p) => p.name));
  assert.equal(hep.endpoint.name, 'eth0');
  assert.deepEqual(names(hep.endpoint.tiers), ['normal']);
  assert.deepEqual(names(hep.endpoint.untrackedTiers), ['untracked']);
  assert.deepEqual(names(hep.endpoint.preDnatTiers), ['prednat']);
  assert.deepEqual(names(hep.endpoint.forwardTiers), ['normal']);
  assert.deepEqual(hep.endpoint.expectedIpv4Addrs, ['198.18.0.11']);
  const wepMsg = msgs.find((m) => m.type === 'workload-endpoint-update') as Extract<PolicyMessage, { type: 'workload-endpoint-update' }>;
  assert.deepEqual(names(wepMsg.endpoint.tiers), ['normal']);
});

/**
 * Kubernetes NetworkPolicy → Calico NetworkPolicy. Expected outputs are written by hand from
 * Calico's behaviour (libcalico-go k8s/conversion K8sNetworkPolicyToCalico), case by case.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkPolicySchema, validateResource } from '../../model/index.js';
import { SOURCES } from '../resources.js';
import { ConversionError, type K8sNetworkPolicy, type K8sObject } from './k8stypes.js';
import {
  convertUid,
  k8sSelectorToCalico,
  kubernetesNetworkPolicyAsNetworkPolicy,
  kubernetesNetworkPolicyToCalico,
  type CalicoRule,
} from './networkpolicy.js';

const ORCH = "projectcalico.org/orchestrator == 'k8s'";

function knp(spec: K8sNetworkPolicy['spec'], metadata: Partial<K8sNetworkPolicy['metadata']> = {}): K8sNetworkPolicy {
  return { metadata: { name: 'web', namespace: 'prod', ...metadata }, spec };
}

function convert(spec: K8sNetworkPolicy['spec']) {
  return kubernetesNetworkPolicyToCalico(knp(spec));
}

function ingressOf(spec: K8sNetworkPolicy['spec']): CalicoRule[] {
  return convert(spec).policy.spec.ingress;
}

function egressOf(spec: K8sNetworkPolicy['spec']): CalicoRule[] {
  return convert(spec).policy.spec.egress;
}

// --- the policy itself -------------------------------------------------------------------------

test('a basic policy: knp.default. name, namespace kept, default tier, order 1000, sorted selector, TCP by default', () => {
  const r = kubernetesNetworkPolicyToCalico(
    knp(
      {
        podSelector: { matchLabels: { label2: 'value2', label: 'value' } },
        policyTypes: ['Ingress'],
        ingress: [{ ports: [{ port: 80 }, { port: 'foo' }], from: [{ podSelector: { matchLabels: { k2: 'v2', k: 'v' } } }] }],
      },
      { name: 'test.policy', namespace: 'default' },
    ),
  );
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(r.policy, {
    apiVersion: 'projectcalico.org/v3',
    kind: 'NetworkPolicy',
    metadata: { name: 'knp.default.test.policy', namespace: 'default' },
    spec: {
      tier: 'default',
      order: 1000,
      selector: `${ORCH} && label == 'value' && label2 == 'value2'`,
      types: ['Ingress'],
      ingress: [
        {
          action: 'Allow',
          protocol: 'TCP',
          source: { selector: `${ORCH} && k == 'v' && k2 == 'v2'` },
          destination: { ports: [80, 'foo'] },
        },
      ],
      egress: [],
    },
  });
});

test('metadata: uid bit-reversed as Calico derives it, resourceVersion and creationTimestamp copied, labels and annotations not', () => {
  const r = kubernetesNetworkPolicyToCalico(
    knp(
      { podSelector: {} },
      {
        uid: '30316465-6365-4463-ad63-3564622d3638',
        resourceVersion: '77',
        creationTimestamp: '2024-01-02T03:04:05Z',
        labels: { a: 'b' },
        annotations: { c: 'd' },
      },
    ),
  );
  assert.deepEqual(r.policy.metadata, {
    name: 'knp.default.web',
    namespace: 'prod',
    // Bytes 0-5, 7 and 9-15 bit-reversed; 6 (version) and 8 (variant) kept. Worked by hand.
    uid: '0c8c26a6-c6a6-44c6-adc6-ac2646b46c1c',
    resourceVersion: '77',
    creationTimestamp: '2024-01-02T03:04:05Z',
  });
});

test('convertUid: other UUID spellings, round trip, and non-UUIDs', () => {
  const canonical = '0c8c26a6-c6a6-44c6-adc6-ac2646b46c1c';
  assert.equal(convertUid('3031646563654463ad633564622d3638'), canonical);
  assert.equal(convertUid('{30316465-6365-4463-AD63-3564622D3638}'), canonical);
  assert.equal(convertUid('urn:uuid:30316465-6365-4463-ad63-3564622d3638'), canonical);
  // Reversing twice gives the original back.
  assert.equal(convertUid(canonical), '30316465-6365-4463-ad63-3564622d3638');
  assert.equal(convertUid('not-a-uuid'), undefined);
  assert.equal(convertUid('30316465-6365-4463-ad63-3564622d363'), undefined);
});

test('a uid that is not a UUID: Calico refuses the policy, so the conversion throws', () => {
  assert.throws(() => kubernetesNetworkPolicyToCalico(knp({ podSelector: {} }, { uid: 'abc' })), (e: unknown) => {
    assert.ok(e instanceof ConversionError);
    assert.match(e.message, /KubernetesNetworkPolicy prod\/web: metadata\.uid "abc" is not a UUID/);
    return true;
  });
});

test('types: Ingress alone unless Egress is listed; both in Ingress, Egress order', () => {
  const typesOf = (policyTypes: string[] | undefined) => convert({ podSelector: {}, policyTypes }).policy.spec.types;
  assert.deepEqual(typesOf(undefined), ['Ingress']);
  assert.deepEqual(typesOf([]), ['Ingress']);
  assert.deepEqual(typesOf(['Ingress']), ['Ingress']);
  assert.deepEqual(typesOf(['Egress']), ['Egress']);
  assert.deepEqual(typesOf(['Egress', 'Ingress']), ['Ingress', 'Egress']);
  assert.deepEqual(typesOf(['Ingress', 'Egress', 'Ingress']), ['Ingress', 'Egress']);
});

test('egress rules without Egress in policyTypes are kept but not enforced, with a warning', () => {
  for (const policyTypes of [undefined, ['Ingress']]) {
    const r = convert({ podSelector: {}, policyTypes, egress: [{}] });
    assert.deepEqual(r.policy.spec.types, ['Ingress']);
    assert.deepEqual(r.policy.spec.egress, [{ action: 'Allow', source: {}, destination: {} }]);
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]!, /^KubernetesNetworkPolicy prod\/web: spec\.policyTypes does not list Egress/);
  }
  // Egress listed: no warning. No egress rules: no warning either.
  assert.deepEqual(convert({ podSelector: {}, policyTypes: ['Egress'], egress: [{}] }).warnings, []);
  assert.deepEqual(convert({ podSelector: {}, policyTypes: ['Ingress'], egress: [] }).warnings, []);
});

test('default deny: policyTypes listed, no rules, empty podSelector selects every k8s pod of the namespace', () => {
  const r = convert({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
  assert.deepEqual(r.policy.spec, { tier: 'default', order: 1000, selector: ORCH, types: ['Ingress', 'Egress'], ingress: [], egress: [] });
  // `ingress: []` is the same as no ingress rules.
  assert.deepEqual(convert({ podSelector: {}, ingress: [] }).policy.spec.ingress, []);
});

// --- selectors ---------------------------------------------------------------------------------

test('selector text: matchLabels sorted by key, then matchExpressions in order, quoted and joined as Calico does', () => {
  const sel = {
    matchLabels: { zone: 'a', app: 'web' },
    matchExpressions: [
      { key: 'tier', operator: 'NotIn', values: ['db', 'cache'] },
      { key: 'env', operator: 'In', values: ['prod'] },
      { key: 'canary', operator: 'DoesNotExist' },
      { key: 'owner', operator: 'Exists' },
    ],
  };
  assert.equal(
    k8sSelectorToCalico(sel, 'pod'),
    `${ORCH} && app == 'web' && zone == 'a' && tier not in { 'db', 'cache' } && env in { 'prod' } && ! has(canary) && has(owner)`,
  );
  assert.equal(
    k8sSelectorToCalico(sel, 'namespace'),
    "app == 'web' && zone == 'a' && tier not in { 'db', 'cache' } && env in { 'prod' } && ! has(canary) && has(owner)",
  );
  assert.equal(convert({ podSelector: sel }).policy.spec.selector, k8sSelectorToCalico(sel, 'pod'));
});

test('selector edge cases: empty and absent pod / namespace selectors, In without values', () => {
  assert.equal(k8sSelectorToCalico({}, 'pod'), ORCH);
  assert.equal(k8sSelectorToCalico(undefined, 'pod'), ORCH);
  assert.equal(k8sSelectorToCalico({ matchLabels: {}, matchExpressions: [] }, 'pod'), ORCH);
  assert.equal(k8sSelectorToCalico({}, 'namespace'), 'all()');
  assert.equal(k8sSelectorToCalico({ matchLabels: {} }, 'namespace'), 'all()');
  assert.equal(k8sSelectorToCalico(undefined, 'namespace'), '');
  assert.equal(k8sSelectorToCalico({ matchExpressions: [{ key: 'toast', operator: 'DoesNotExist' }] }, 'namespace'), '! has(toast)');
  // The API server requires values for In/NotIn; Calico would write an empty string.
  assert.equal(k8sSelectorToCalico({ matchExpressions: [{ key: 'k', operator: 'In' }] }, 'namespace'), "k in { '' }");
  assert.equal(k8sSelectorToCalico({ matchExpressions: [{ key: 'k', operator: 'Bogus' }] }, 'pod'), ORCH);
});

// --- peers -------------------------------------------------------------------------------------

test('peers: podSelector only, namespaceSelector only, both, empty ones', () => {
  const rules = ingressOf({
    podSelector: { matchLabels: { app: 'db' } },
    ingress: [
      {
        from: [
          { podSelector: { matchLabels: { role: 'fe' } } },
          { namespaceSelector: { matchLabels: { namespaceRole: 'dev', namespaceFoo: 'bar' } } },
          { namespaceSelector: { matchLabels: { team: 'x' } }, podSelector: { matchLabels: { podC: 'D', podA: 'B' } } },
          { podSelector: {} },
          { namespaceSelector: {} },
          { namespaceSelector: {}, podSelector: {} },
        ],
      },
    ],
  });
  assert.deepEqual(rules, [
    { action: 'Allow', source: { selector: `${ORCH} && role == 'fe'` }, destination: {} },
    { action: 'Allow', source: { selector: ORCH, namespaceSelector: "namespaceFoo == 'bar' && namespaceRole == 'dev'" }, destination: {} },
    { action: 'Allow', source: { selector: `${ORCH} && podA == 'B' && podC == 'D'`, namespaceSelector: "team == 'x'" }, destination: {} },
    // Every pod of the policy's namespace.
    { action: 'Allow', source: { selector: ORCH }, destination: {} },
    // Every pod of every namespace.
    { action: 'Allow', source: { selector: ORCH, namespaceSelector: 'all()' }, destination: {} },
    { action: 'Allow', source: { selector: ORCH, namespaceSelector: 'all()' }, destination: {} },
  ]);
});

test('ipBlock: nets and notNets, host bits cleared, IPv6 written canonically; other selectors of the peer ignored', () => {
  const rules = ingressOf({
    podSelector: {},
    ingress: [
      {
        from: [
          { ipBlock: { cidr: '192.168.0.0/16', except: ['192.168.3.0/24', '192.168.4.0/24'] } },
          { ipBlock: { cidr: '10.1.2.3/8' } },
          { ipBlock: { cidr: '2001:DB8:0:0:0:0:0:1/64', except: ['2001:db8:0:0:1::/80'] } },
          { ipBlock: { cidr: '172.16.0.0/12', except: [] }, podSelector: { matchLabels: { a: 'b' } } },
        ],
      },
    ],
  });
  assert.deepEqual(rules, [
    { action: 'Allow', source: { nets: ['192.168.0.0/16'], notNets: ['192.168.3.0/24', '192.168.4.0/24'] }, destination: {} },
    { action: 'Allow', source: { nets: ['10.0.0.0/8'] }, destination: {} },
    { action: 'Allow', source: { nets: ['2001:db8::/64'], notNets: ['2001:db8:0:0:1::/80'] }, destination: {} },
    { action: 'Allow', source: { nets: ['172.16.0.0/12'] }, destination: {} },
  ]);
});

test('egress ipBlock with ports: destination carries nets, notNets and ports, one rule per protocol', () => {
  const rules = egressOf({
    podSelector: {},
    policyTypes: ['Egress'],
    egress: [
      {
        ports: [
          { port: 90, protocol: 'UDP' },
          { port: 80, protocol: 'TCP' },
        ],
        to: [{ ipBlock: { cidr: '192.168.0.0/16', except: ['192.168.3.0/24', '192.168.4.0/24', '192.168.5.0/24'] } }],
      },
    ],
  });
  const dest = { nets: ['192.168.0.0/16'], notNets: ['192.168.3.0/24', '192.168.4.0/24', '192.168.5.0/24'] };
  assert.deepEqual(rules, [
    { action: 'Allow', protocol: 'TCP', source: {}, destination: { ports: [80], ...dest } },
    { action: 'Allow', protocol: 'UDP', source: {}, destination: { ports: [90], ...dest } },
  ]);
});

test('an ipBlock CIDR that does not parse leaves the peer unrestricted, as in Calico, with a warning', () => {
  const r = convert({ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.1' } }, { ipBlock: { cidr: '192.168.0.0/55' } }], ports: [{ port: 22 }] }] });
  assert.deepEqual(r.policy.spec.ingress, [
    { action: 'Allow', protocol: 'TCP', source: {}, destination: { ports: [22] } },
    { action: 'Allow', protocol: 'TCP', source: {}, destination: { ports: [22] } },
  ]);
  assert.equal(r.warnings.length, 2);
  assert.match(r.warnings[0]!, /^KubernetesNetworkPolicy prod\/web: spec\.ingress\[0\]\.from\[0\]\.ipBlock\.cidr: "10\.0\.0\.1" is not a CIDR/);
  assert.match(r.warnings[1]!, /spec\.ingress\[0\]\.from\[1\]\.ipBlock\.cidr/);
});

test('an except entry that does not parse: it and the later ones are ignored, the earlier ones kept', () => {
  const r = convert({
    podSelector: {},
    policyTypes: ['Egress'],
    egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16', 'bogus', '10.2.0.0/16'] } }] }],
  });
  assert.deepEqual(r.policy.spec.egress, [{ action: 'Allow', source: {}, destination: { nets: ['10.0.0.0/8'], notNets: ['10.1.0.0/16'] } }]);
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /spec\.egress\[0\]\.to\[0\]\.ipBlock\.except\[1\]: "bogus" is not a CIDR/);
});

// --- rules, peers × protocols --------------------------------------------------------------------

test('one rule per protocol (sorted: SCTP, TCP, UDP) times per peer (in order)', () => {
  const rules = ingressOf({
    podSelector: { matchLabels: { label: 'value' } },
    ingress: [
      {
        ports: [
          { port: 90, protocol: 'UDP' },
          { port: 80, protocol: 'TCP' },
          { port: 7777, protocol: 'SCTP' },
          { port: 443 },
        ],
        from: [{ podSelector: { matchLabels: { k: 'v' } } }, { podSelector: { matchLabels: { k2: 'v2' } } }],
      },
    ],
  });
  const a = { selector: `${ORCH} && k == 'v'` };
  const b = { selector: `${ORCH} && k2 == 'v2'` };
  assert.deepEqual(rules, [
    { action: 'Allow', protocol: 'SCTP', source: a, destination: { ports: [7777] } },
    { action: 'Allow', protocol: 'SCTP', source: b, destination: { ports: [7777] } },
    { action: 'Allow', protocol: 'TCP', source: a, destination: { ports: [80, 443] } },
    { action: 'Allow', protocol: 'TCP', source: b, destination: { ports: [80, 443] } },
    { action: 'Allow', protocol: 'UDP', source: a, destination: { ports: [90] } },
    { action: 'Allow', protocol: 'UDP', source: b, destination: { ports: [90] } },
  ]);
});

test('rules with peers and no ports have no protocol; with ports and no peers, no source', () => {
  assert.deepEqual(ingressOf({ podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { k: 'v' } } }] }] }), [
    { action: 'Allow', source: { selector: `${ORCH} && k == 'v'` }, destination: {} },
  ]);
  assert.deepEqual(ingressOf({ podSelector: {}, ingress: [{ ports: [{ protocol: 'TCP', port: 80 }] }] }), [
    { action: 'Allow', protocol: 'TCP', source: {}, destination: { ports: [80] } },
  ]);
  assert.deepEqual(egressOf({ podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'UDP', port: 53 }] }] }), [
    { action: 'Allow', protocol: 'UDP', source: {}, destination: { ports: [53] } },
  ]);
});

test('`from: []`, a missing `from` and an empty rule `{}` all allow everything', () => {
  const all = [{ action: 'Allow', source: {}, destination: {} }];
  assert.deepEqual(ingressOf({ podSelector: {}, ingress: [{}] }), all);
  assert.deepEqual(ingressOf({ podSelector: {}, ingress: [{ from: [] }] }), all);
  assert.deepEqual(ingressOf({ podSelector: {}, ingress: [{ from: [], ports: [] }] }), all);
  assert.deepEqual(egressOf({ podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [] }] }), all);
});

test('rules keep the order of the Kubernetes rules', () => {
  const rules = ingressOf({
    podSelector: {},
    ingress: [{ ports: [{ port: 1, protocol: 'UDP' }] }, { ports: [{ port: 2 }] }, { from: [{ podSelector: {} }] }],
  });
  assert.deepEqual(
    rules.map((r) => [r.protocol, r.destination.ports, r.source.selector]),
    [
      ['UDP', [1], undefined],
      ['TCP', [2], undefined],
      [undefined, undefined, ORCH],
    ],
  );
});

// --- ports -------------------------------------------------------------------------------------

test('endPort makes a range; endPort equal to port is that port', () => {
  assert.deepEqual(ingressOf({ podSelector: {}, ingress: [{ ports: [{ protocol: 'TCP', port: 32000, endPort: 32768 }] }] }), [
    { action: 'Allow', protocol: 'TCP', source: {}, destination: { ports: ['32000:32768'] } },
  ]);
  assert.deepEqual(ingressOf({ podSelector: {}, ingress: [{ ports: [{ port: 80, endPort: 80 }] }] })[0]!.destination, { ports: [80] });
});

test("one protocol's ports merge into ranges: names first, then ascending ranges", () => {
  const portsOf = (ports: Array<{ port?: number | string; endPort?: number; protocol?: string }>) =>
    ingressOf({ podSelector: {}, ingress: [{ ports }] }).map((r) => [r.protocol, r.destination.ports]);
  assert.deepEqual(portsOf([{ port: 82 }, { port: 9090 }, { port: 'http' }, { port: 80 }, { port: 81 }]), [['TCP', ['http', '80:82', 9090]]]);
  assert.deepEqual(portsOf([{ port: 80, endPort: 90 }, { port: 85 }, { port: 91 }, { port: 100 }]), [['TCP', ['80:91', 100]]]);
  assert.deepEqual(portsOf([{ port: 443 }, { port: 443 }]), [['TCP', [443]]]);
  assert.deepEqual(portsOf([{ port: 90 }, { port: 80 }]), [['TCP', [80, 90]]]);
  // At most one port number: left as written, order included.
  assert.deepEqual(portsOf([{ port: 'foo' }, { port: 80 }]), [['TCP', ['foo', 80]]]);
  assert.deepEqual(portsOf([{ port: 'b' }, { port: 'a' }]), [['TCP', ['b', 'a']]]);
  // A numeric string is a port number.
  assert.deepEqual(portsOf([{ port: '8080' }]), [['TCP', [8080]]]);
  // Protocols are grouped separately.
  assert.deepEqual(portsOf([{ port: 53, protocol: 'UDP' }, { port: 53 }, { port: 54, protocol: 'UDP' }]), [
    ['TCP', [53]],
    ['UDP', ['53:54']],
  ]);
});

test('a port entry without a port allows every port of its protocol, whatever else is listed', () => {
  const portsOf = (ports: Array<{ port?: number | string; endPort?: number; protocol?: string }>) =>
    ingressOf({ podSelector: {}, ingress: [{ ports }] }).map((r) => [r.protocol, r.destination.ports]);
  // `{}` is TCP, any port.
  assert.deepEqual(portsOf([{ port: 80 }, {}]), [['TCP', undefined]]);
  assert.deepEqual(portsOf([{}, { port: 80 }]), [['TCP', undefined]]);
  assert.deepEqual(portsOf([{ protocol: 'UDP' }, { port: 80 }]), [
    ['TCP', [80]],
    ['UDP', undefined],
  ]);
  // endPort without port is ignored: every port of the protocol.
  assert.deepEqual(portsOf([{ protocol: 'SCTP', endPort: 90 }]), [['SCTP', undefined]]);
});

test("Calico's egress case: a blank port entry and a UDP-only rule", () => {
  assert.deepEqual(
    egressOf({
      podSelector: { matchLabels: { label: 'value', label2: 'value2' } },
      policyTypes: ['Egress'],
      egress: [{ ports: [{}, { port: 80 }], to: [{ podSelector: { matchLabels: { k: 'v', k2: 'v2' } } }] }, { ports: [{ port: 53, protocol: 'UDP' }] }],
    }),
    [
      { action: 'Allow', protocol: 'TCP', source: {}, destination: { selector: `${ORCH} && k == 'v' && k2 == 'v2'` } },
      { action: 'Allow', protocol: 'UDP', source: {}, destination: { ports: [53] } },
    ],
  );
});

test('invalid ports: the whole Kubernetes rule is dropped, the others kept, and the warning names policy and field', () => {
  const peer = [{ podSelector: { matchLabels: { k: 'v' } } }];
  const r = convert({
    podSelector: {},
    ingress: [
      { ports: [{ port: 80 }, { port: 'foo' }], from: peer },
      { ports: [{ port: 80 }, { port: 90, endPort: 85 }], from: peer }, // endPort below port
      { ports: [{ port: 'http', endPort: 90 }] }, // named port with endPort
      { ports: [{ port: '-50:-1' }] },
      { ports: [{ port: 70000 }] },
      { ports: [{ port: 80, endPort: 70000 }] },
      { ports: [{ port: '' }] },
    ],
  });
  assert.deepEqual(r.policy.spec.ingress, [
    { action: 'Allow', protocol: 'TCP', source: { selector: `${ORCH} && k == 'v'` }, destination: { ports: [80, 'foo'] } },
  ]);
  assert.equal(r.warnings.length, 6);
  const expected = [
    /^KubernetesNetworkPolicy prod\/web: spec\.ingress\[1\] dropped, as Calico does: ports\[1\]: range 90:85 starts above its end$/,
    /^KubernetesNetworkPolicy prod\/web: spec\.ingress\[2\] dropped, as Calico does: ports\[0\]: "http:90" is neither/,
    /spec\.ingress\[3\] dropped, as Calico does: ports\[0\]: "-50:-1" is neither/,
    /spec\.ingress\[4\] dropped, as Calico does: ports\[0\]: port 70000 is above 65535/,
    /spec\.ingress\[5\] dropped, as Calico does: ports\[0\]: range 80:70000 goes above 65535/,
    /spec\.ingress\[6\] dropped, as Calico does: ports\[0\]: "" is neither/,
  ];
  expected.forEach((re, i) => assert.match(r.warnings[i]!, re));
});

test('invalid ports in egress rules are dropped the same way; the policy stays', () => {
  const r = convert({
    podSelector: {},
    policyTypes: ['Egress'],
    egress: [{ ports: [{ port: 80 }, { port: 'foo' }] }, { ports: [{ port: 80 }, { port: '-22:-3' }] }],
  });
  assert.deepEqual(r.policy.spec.egress, [{ action: 'Allow', protocol: 'TCP', source: {}, destination: { ports: [80, 'foo'] } }]);
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /spec\.egress\[1\] dropped, as Calico does: ports\[1\]/);
});

test('port 0 and a dropped rule that would have produced CIDR warnings', () => {
  // Calico's port parser takes 0 (the API server would not let it through).
  assert.deepEqual(ingressOf({ podSelector: {}, ingress: [{ ports: [{ port: 0 }] }] }), [
    { action: 'Allow', protocol: 'TCP', source: {}, destination: { ports: [0] } },
  ]);
  // Ports are judged before peers: a dropped rule says nothing about its peers.
  const r = convert({ podSelector: {}, ingress: [{ ports: [{ port: 5, endPort: 1 }], from: [{ ipBlock: { cidr: 'x' } }] }] });
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /spec\.ingress\[0\] dropped/);
});

test('rules do not share arrays with each other', () => {
  const rules = ingressOf({ podSelector: {}, ingress: [{ ports: [{ port: 1 }, { port: 3 }], from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }, { podSelector: {} }] }] });
  rules[0]!.destination.ports!.push(99);
  rules[0]!.source.notNets!.push('10.2.0.0/16');
  assert.deepEqual(rules[1]!.destination.ports, [1, 3]);
  const again = ingressOf({ podSelector: {}, ingress: [{ ports: [{ port: 1 }, { port: 3 }], from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }] }] });
  assert.deepEqual(again[0]!.source.notNets, ['10.1.0.0/16']);
});

// --- against the datastore model ------------------------------------------------------------------

const RICH = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'KubernetesNetworkPolicy',
  metadata: { name: 'rich', namespace: 'prod', uid: '30316465-6365-4463-ad63-3564622d3638', resourceVersion: '12' },
  spec: {
    podSelector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }] },
    policyTypes: ['Ingress', 'Egress'],
    ingress: [
      {
        from: [
          { podSelector: { matchExpressions: [{ key: 'x', operator: 'DoesNotExist' }] }, namespaceSelector: {} },
          { namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['q'] }] } },
          { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } },
        ],
        ports: [{ port: 80 }, { port: 'http' }, { port: 8000, endPort: 8080, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }, { protocol: 'SCTP' }],
      },
      {},
    ],
    egress: [{ to: [{ ipBlock: { cidr: 'fd00::/8' } }], ports: [{ port: 443 }] }, { ports: [{ port: 53, protocol: 'UDP' }] }],
  },
};

test('the converted policy validates as the model NetworkPolicy, from the model KubernetesNetworkPolicy', () => {
  const v = validateResource('KubernetesNetworkPolicy', RICH);
  assert.ok(v.ok, JSON.stringify(!v.ok && v.problems));
  const r = kubernetesNetworkPolicyToCalico(v.resource);
  assert.deepEqual(r.warnings, []);
  const parsed = networkPolicySchema.safeParse(r.policy);
  assert.ok(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues));
  assert.equal(r.policy.spec.ingress.length, 3 * 3 + 1);
  assert.deepEqual(r.policy.spec.ingress[3], {
    action: 'Allow',
    protocol: 'TCP',
    source: { selector: `${ORCH} && ! has(x)`, namespaceSelector: 'all()' },
    destination: { ports: ['http', 80, '8000:8080'] },
  });

  const typed = kubernetesNetworkPolicyAsNetworkPolicy(v.resource);
  assert.equal(typed.policy.metadata.name, 'knp.default.rich');
  assert.equal(typed.policy.spec.order, 1000);
  assert.deepEqual(typed.policy.spec.types, ['Ingress', 'Egress']);
});

test('kubernetesNetworkPolicyAsNetworkPolicy refuses a result the model rejects', () => {
  // Calico's port-name alphabet takes upper case; Kubernetes' and the model's do not.
  assert.throws(() => kubernetesNetworkPolicyAsNetworkPolicy(knp({ podSelector: {}, ingress: [{ ports: [{ port: 'HTTP' }] }] })), ConversionError);
});

test('the Kubernetes source delivers the policy unchanged and reports conversion warnings', () => {
  const warnings: string[] = [];
  const spec = { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 90, endPort: 80 }] }, { ports: [{ port: 80 }] }] };
  const obj: K8sObject = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'np', namespace: 'prod', resourceVersion: '3' }, spec };
  const c = SOURCES.KubernetesNetworkPolicy[0]!.convert(obj, { scope: { kind: 'KubernetesNetworkPolicy' }, warn: (m) => warnings.push(m) });
  assert.equal(c.type, 'item');
  const item = (c as { item: { key: string; value?: { spec: unknown } } }).item;
  assert.equal(item.key, 'KubernetesNetworkPolicy/prod/np');
  assert.deepEqual(item.value?.spec, spec);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^KubernetesNetworkPolicy prod\/np: spec\.ingress\[0\] dropped/);

  // A uid Calico cannot convert: the policy is a decode error, so absent as in Calico.
  const bad = SOURCES.KubernetesNetworkPolicy[0]!.convert({ ...obj, metadata: { ...obj.metadata, uid: 'nope' } } as K8sObject, {
    scope: { kind: 'KubernetesNetworkPolicy' },
    warn: () => undefined,
  });
  assert.equal(bad.type, 'item');
  assert.match((bad as { item: { decodeError?: string } }).item.decodeError ?? '', /not a UUID/);
});

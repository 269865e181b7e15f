import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateResource } from '../../datastore/model/index.js';
import type { GlobalNetworkPolicy, NetworkPolicy } from '../../datastore/model/index.js';
import { entityRuleSelector, globalNetworkPolicyToBackend, networkPolicyToBackend, policyTypes } from './model.js';

const np = (spec: Record<string, unknown>) => {
  const v = validateResource('NetworkPolicy', { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name: 'p', namespace: 'prod' }, spec });
  assert.ok(v.ok, JSON.stringify(v));
  return v.resource as NetworkPolicy;
};
const gnp = (spec: Record<string, unknown>) => {
  const v = validateResource('GlobalNetworkPolicy', { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'g' }, spec });
  assert.ok(v.ok, JSON.stringify(v));
  return v.resource as GlobalNetworkPolicy;
};

// Expected strings written from libcalico-go's update processors (rules.go, selectors.go,
// networkpolicyprocessor.go, globalnetworkpolicyprocessor.go): Calico's own wording and brackets.
test('entity rule selectors as the update processor writes them', () => {
  const cases: [Record<string, unknown> | undefined, string | undefined, string][] = [
    [undefined, 'prod', ''],
    [{}, 'prod', ''],
    [{ nets: ['10.0.0.0/8'] }, 'prod', ''],
    [{ selector: "role == 'db'" }, 'prod', "(projectcalico.org/namespace == 'prod') && (role == 'db')"],
    [{ selector: "role == 'db'" }, undefined, "role == 'db'"],
    [{ notSelector: "role == 'db'" }, 'prod', "projectcalico.org/namespace == 'prod'"],
    [{ namespaceSelector: "team == 'a'" }, 'prod', 'pcns.team == "a"'],
    [{ namespaceSelector: "team == 'a'", selector: 'has(x)' }, undefined, '(pcns.team == "a") && (has(x))'],
    [{ namespaceSelector: 'all()' }, undefined, 'has(projectcalico.org/namespace)'],
    [{ namespaceSelector: 'global()' }, undefined, '!has(projectcalico.org/namespace)'],
    [{ serviceAccounts: { names: ['b', 'a'] } }, 'prod', '(projectcalico.org/namespace == \'prod\') && (projectcalico.org/serviceaccount in {"a", "b"})'],
    [{ serviceAccounts: { selector: "k == 'v'", names: ['a'] }, selector: 'has(y)' }, undefined, '((pcsa.k == "v") && (projectcalico.org/serviceaccount in {"a"})) && (has(y))'],
  ];
  for (const [er, ns, want] of cases) assert.equal(entityRuleSelector(er as never, ns), want, JSON.stringify([er, ns]));
});

test('policy selectors: namespace ANDed after the selector, service accounts prefixed, all() rewritten in global policies', () => {
  assert.equal(networkPolicyToBackend(np({})).selector, "projectcalico.org/namespace == 'prod'");
  assert.equal(networkPolicyToBackend(np({ selector: "app == 'web'" })).selector, "(app == 'web') && projectcalico.org/namespace == 'prod'");
  assert.equal(networkPolicyToBackend(np({ selector: 'all()', serviceAccountSelector: "role == 'x'" })).selector, "((all()) && projectcalico.org/namespace == 'prod') && pcsa.role == \"x\"");
  assert.equal(globalNetworkPolicyToBackend(gnp({ selector: "app == 'web'", namespaceSelector: 'all()' })).selector, '(app == \'web\') && has(projectcalico.org/namespace)');
  // Calico replaces every all() in the combined text, the policy's own selector included.
  assert.equal(globalNetworkPolicyToBackend(gnp({ selector: 'all()', namespaceSelector: "t == 'a'" })).selector, '(has(projectcalico.org/namespace)) && pcns.t == "a"');
  assert.equal(globalNetworkPolicyToBackend(gnp({ selector: 'all()' })).selector, 'all()');
});

test('policy ids, defaults and types inference', () => {
  const p = networkPolicyToBackend(np({ tier: 'security', order: 5, egress: [{ action: 'Pass' }] }));
  assert.deepEqual(p.id, { tier: 'security', kind: 'NetworkPolicy', namespace: 'prod', name: 'p' });
  assert.equal(p.order, 5);
  assert.equal(p.outboundRules[0]!.action, 'pass');
  assert.equal(p.applyOnForward, true, 'namespaced policies always apply on forward');
  assert.deepEqual(policyTypes(p), { ingress: true, egress: true });
  assert.deepEqual(policyTypes(networkPolicyToBackend(np({ ingress: [{ action: 'Allow' }] }))), { ingress: true, egress: false });
  assert.deepEqual(policyTypes(networkPolicyToBackend(np({ types: ['Egress'] }))), { ingress: false, egress: true });
  const g = globalNetworkPolicyToBackend(gnp({ doNotTrack: true, applyOnForward: true, ingress: [{ action: 'Deny', protocol: 'ICMPv6', icmp: { type: 128 } }] }));
  assert.deepEqual(g.id, { tier: 'default', kind: 'GlobalNetworkPolicy', name: 'g' });
  assert.equal(g.doNotTrack, true);
  assert.equal(g.inboundRules[0]!.protocol, 'icmpv6');
  assert.deepEqual(g.inboundRules[0]!.icmp, { type: 128 });
});

test('rule fields: nets masked, ports split into ranges and names, protocol names lower-cased', () => {
  const r = networkPolicyToBackend(np({ ingress: [{ action: 'Allow', protocol: 'UDPLite', source: { nets: ['10.1.2.3/8', '2001:DB8::1/64'], notNets: ['10.9.9.9'], ports: [53, '1000:2000', 'dns'] } }] })).inboundRules[0]!;
  assert.equal(r.protocol, 'udplite');
  assert.deepEqual(r.srcNets, ['10.0.0.0/8', '2001:db8::/64']);
  assert.deepEqual(r.notSrcNets, ['10.9.9.9/32']);
  assert.deepEqual(r.srcPorts, [{ first: 53, last: 53 }, { first: 1000, last: 2000 }, { name: 'dns' }]);
});

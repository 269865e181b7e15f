/**
 * Policy enforced end to end: Calico resources written into etcd, real TCP, UDP and ICMP between
 * pods of a 2-node lab allowed or not as Calico would allow them, once per iptables backend
 * (agents started with FELIX_IPTABLESBACKEND=nft, then =legacy).
 *
 *   node-1: default/client {app: client}   prod/web1 {app: web, port http = 80}
 *   node-2: default/web    {app: web}      prod/web2 {app: web, port http = 8080}   prod/client {app: client}
 *   ext (198.18.0.200, outside every pool): a listener on tcp/80
 *
 * Every pod answers on tcp/80 and tcp/8080 (and udp/8080). Each scenario starts from the clean
 * state (no policy: everything connects), makes its changes step by step, waits after each for
 * the traffic to match, and undoes its datastore writes at the end. The pairs cover same-node
 * (default/client -> prod/web1) and cross-node paths.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { resourceKey } from '../../src/datastore/keys.js';
import { DEFAULT_POOL_NAME } from '../../src/lab/calico-resources.js';
import { waitFor } from '../../src/lab/index.js';
import {
  BACKENDS, POLICY_CONVERGE_MS, POOL_CIDR, expectReach, globalNetworkPolicy, grid, iptablesSave, networkPolicy, relabel, tierResource, withPolicyLab,
  type Backend, type Check, type DatastoreChanges, type Peer, type PolicyLab, type Probe,
} from './helpers.js';

const T80: Probe = 'tcp/80';
const T8080: Probe = 'tcp/8080';
const U8080: Probe = 'udp/8080';
const ICMP: Probe = 'icmp';

const PODS = [
  { node: 'node-1', namespace: 'default', name: 'client', labels: { app: 'client' } },
  { node: 'node-2', namespace: 'default', name: 'web', labels: { app: 'web' } },
  { node: 'node-1', namespace: 'prod', name: 'web1', labels: { app: 'web' }, ports: [{ name: 'http', protocol: 'TCP' as const, port: 80 }] },
  { node: 'node-2', namespace: 'prod', name: 'web2', labels: { app: 'web' }, ports: [{ name: 'http', protocol: 'TCP' as const, port: 8080 }] },
  { node: 'node-2', namespace: 'prod', name: 'client', labels: { app: 'client' } },
];

/** Per backend: lab up and agents (~30 s) plus the scenarios; generous for a loaded machine. */
const PER_BACKEND_TIMEOUT_MS = 480_000;

const inProd = (p: Peer) => p.label.startsWith('prod/');
const fromDefault = (p: Peer) => p.label.startsWith('default/');

for (const backend of BACKENDS) {
  test(`policy enforced with FELIX_IPTABLESBACKEND=${backend}`, { timeout: PER_BACKEND_TIMEOUT_MS }, async (t) => {
    await withPolicyLab({ tag: `en${backend.slice(0, 3)}`, backend, nodes: 2, pods: PODS, podPorts: [80, 8080], udpPorts: [8080] }, async (lab) => {
      await scenarios(t, lab);
    });
  });
}

async function scenarios(t: TestContext, lab: PolicyLab): Promise<void> {
  const all = PODS.map((p) => lab.peer(`${p.namespace}/${p.name}`));
  const dClient = lab.peer('default/client');
  const dWeb = lab.peer('default/web');
  const web1 = lab.peer('prod/web1');
  const web2 = lab.peer('prod/web2');
  const pClient = lab.peer('prod/client');
  const webs = [dWeb, web1, web2];
  const clients = [dClient, pClient];
  const isWeb = (p: Peer) => webs.includes(p);
  const isClient = (p: Peer) => clients.includes(p);

  /** No policy: every pod reaches every pod on every probe, and the outside. */
  const everything = [...grid(all, all, [T80, T8080, U8080, ICMP], () => true), ...grid(all, [lab.ext], [T80], () => true)];

  /** A scenario: the clean state first, its steps, then its datastore writes undone. */
  const scenario = (name: string, fn: (c: DatastoreChanges, step: StepFn) => Promise<void>) =>
    t.test(name, async (st) => {
      const c = lab.changes();
      try {
        await st.test('starts from the clean state: everything connects', () => expectReach('clean state', everything));
        await fn(c, (stepName, body) => st.test(stepName, body));
      } finally {
        await c.undo();
      }
    });

  await scenario('default allow through the namespace profiles', async (_c, step) => {
    await step('no policy: pods reach each other on TCP, UDP and ICMP, and the outside', () => expectReach('default allow', everything));
  });

  await t.test(`rules are programmed with iptables-${lab.backend} only`, async () => {
    const other: Backend = lab.backend === 'nft' ? 'legacy' : 'nft';
    for (const n of lab.state().nodes) {
      await waitFor(async () => /^:cali-FORWARD /m.test(await iptablesSave(n.netns, lab.backend)), {
        timeoutMs: POLICY_CONVERGE_MS,
        what: `cali-FORWARD in iptables-${lab.backend}-save on ${n.name}`,
      });
      assert.doesNotMatch(await iptablesSave(n.netns, other), /cali-/, `iptables-${other} on ${n.name} holds cali- chains`);
    }
  });

  await scenario('prod: default-deny ingress, then allow from namespace default on port 80, then a named port', async (c, step) => {
    await c.put(networkPolicy('prod', 'default-deny', { selector: 'all()', types: ['Ingress'] }));
    await step('default-deny: nothing reaches a prod pod, prod pods still reach out', () =>
      expectReach('prod default-deny', [
        ...grid(all, all, [T80, T8080, ICMP], (_f, to) => !inProd(to)),
        ...grid(all.filter(inProd), [lab.ext], [T80], () => true),
      ]));

    const allowFromDefault = (ports: (number | string)[]) =>
      networkPolicy('prod', 'allow-from-default', {
        selector: "app == 'web'",
        types: ['Ingress'],
        ingress: [{ action: 'Allow', protocol: 'TCP', source: { namespaceSelector: "projectcalico.org/name == 'default'" }, destination: { ports } }],
      });
    await c.put(allowFromDefault([80]));
    await step('allow from namespace default to app=web on tcp/80 only', () =>
      expectReach('allow from default on 80', grid(all, all, [T80, T8080, U8080, ICMP], (from, to, probe) => !inProd(to) || (isWeb(to) && fromDefault(from) && probe === T80))));

    await c.put(allowFromDefault(['http']));
    await step("named port 'http': tcp/80 on prod/web1, tcp/8080 on prod/web2", () =>
      expectReach('named port http', grid(all, all, [T80, T8080, U8080], (from, to, probe) => {
        if (!inProd(to)) return true;
        if (!fromDefault(from)) return false;
        return (to === web1 && probe === T80) || (to === web2 && probe === T8080);
      })));
  });

  await scenario('GlobalNetworkPolicy order: a Deny at order 10 beats an Allow at order 20', async (c, step) => {
    const denyWeb8080 = (order: number) =>
      globalNetworkPolicy('deny-web-8080', { order, selector: "app == 'web'", ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [8080] } }] });
    await c.put(globalNetworkPolicy('allow-web', { order: 20, selector: "app == 'web'", ingress: [{ action: 'Allow' }] }));
    await c.put(denyWeb8080(10));
    await step('deny first: tcp/8080 to app=web denied; tcp/80, udp/8080 and ICMP allowed', () =>
      expectReach('deny at 10, allow at 20', grid(all, all, [T80, T8080, U8080, ICMP], (_f, to, probe) => !(isWeb(to) && probe === T8080))));
    await c.put(denyWeb8080(30));
    await step('the same Deny at order 30, after the Allow: tcp/8080 allowed again', () =>
      expectReach('allow at 20, deny at 30', grid(all, webs, [T80, T8080], () => true)));
  });

  await scenario('Pass: to the profiles, and through a second tier', async (c, step) => {
    await c.put(globalNetworkPolicy('pass-80', { order: 10, selector: "app == 'web'", ingress: [{ action: 'Pass', protocol: 'TCP', destination: { ports: [80] } }] }));
    await step('Pass in the default tier: tcp/80 decided by the profile (allow), the rest hits the end of the tier (deny)', () =>
      expectReach('pass to profiles', grid(all, all, [T80, T8080, ICMP], (_f, to, probe) => !isWeb(to) || probe === T80)));

    const prodProfile = resourceKey('profiles', 'kns.prod');
    await c.rewrite<{ spec: { ingress?: unknown[] } }>(prodProfile, (p) => {
      p.spec.ingress = [];
    });
    await step('profile kns.prod with no ingress rule: what was passed to it is dropped, and so is everything to prod pods without policy', () =>
      expectReach('pass to a denying profile', grid(all, all, [T80, T8080], (_f, to, probe) => !inProd(to) && (!isWeb(to) || probe === T80))));
    await c.revert(prodProfile);

    await c.put(tierResource('security', 100));
    const guard = (ingress: unknown[]) => globalNetworkPolicy('security.guard', { tier: 'security', order: 10, selector: "app == 'web'", ingress });
    await c.put(guard([{ action: 'Deny', protocol: 'TCP', source: { selector: "app == 'web'" }, destination: { ports: [80] } }, { action: 'Pass' }]));
    await step('tier security (order 100) first: its Deny ends evaluation, its Pass goes on to the default tier', () =>
      expectReach('security tier deny and pass', grid(all, all, [T80, T8080, ICMP], (from, to, probe) => !isWeb(to) || (probe === T80 && isClient(from)))));

    await c.put(guard([{ action: 'Pass', source: { selector: "app == 'client'" } }]));
    await c.delete(globalNetworkPolicy('pass-80', {}));
    await step('Pass from tier security with no default-tier policy left goes to the profiles; the end of tier security denies the rest', () =>
      expectReach('security tier pass to profiles', grid(all, all, [T80, T8080, ICMP], (from, to) => !isWeb(to) || isClient(from))));
  });

  await scenario('egress to nets with notNets: the pool except one pod', async (c, step) => {
    await c.put(networkPolicy('default', 'egress-pool-but-web2', {
      selector: "app == 'client'",
      types: ['Egress'],
      egress: [{ action: 'Allow', destination: { nets: [POOL_CIDR], notNets: [`${web2.ip}/32`] } }],
    }));
    await step('default/client reaches the pool but not prod/web2 nor the outside; other pods unaffected', () =>
      expectReach('egress nets/notNets', [
        ...grid([dClient], all, [T80, T8080, ICMP], (_f, to) => to !== web2),
        ...grid([dClient], [lab.ext], [T80], () => false),
        ...grid([pClient, dWeb], [web2, lab.ext], [T80], () => true),
      ]));
  });

  await scenario('ICMP rules: denied while TCP is allowed, then the reverse', async (c, step) => {
    const icmp = (ingress: unknown[]) => globalNetworkPolicy('web-icmp', { order: 10, selector: "app == 'web'", ingress });
    await c.put(icmp([{ action: 'Deny', protocol: 'ICMP' }, { action: 'Allow' }]));
    await step('protocol ICMP denied: no echo reply from app=web, TCP still connects', () =>
      expectReach('icmp denied', grid(all, all, [T80, ICMP], (_f, to, probe) => !isWeb(to) || probe !== ICMP)));
    await c.put(icmp([{ action: 'Allow', protocol: 'ICMP', icmp: { type: 8, code: 0 } }]));
    await step('only ICMP echo-request (type 8) allowed: pings answered, TCP denied', () =>
      expectReach('icmp allowed only', grid(all, all, [T80, T8080, ICMP], (_f, to, probe) => !isWeb(to) || probe === ICMP)));
  });

  await scenario('labels rewritten in etcd change reachability without an agent restart', async (c, step) => {
    const pids = lab.agentPids();
    await c.put(globalNetworkPolicy('web-from-trusted', { order: 10, selector: "app == 'web'", ingress: [{ action: 'Allow', source: { selector: "trusted == 'yes'" } }] }));
    await step('nobody is trusted: nothing reaches app=web', () => expectReach('no trusted source', grid(all, all, [T80, ICMP], (_f, to) => !isWeb(to))));

    await relabel(c, lab.pod('default/client'), { app: 'client', trusted: 'yes' });
    await step('default/client labelled trusted=yes: it reaches app=web, nobody else does', () =>
      expectReach('client trusted', grid(all, all, [T80, ICMP], (from, to) => !isWeb(to) || from === dClient)));

    await relabel(c, lab.pod('prod/web2'), { app: 'db' });
    await step('prod/web2 relabelled app=db: the policy no longer selects it, everyone reaches it', () =>
      expectReach('web2 unselected', grid(all, all, [T80, ICMP], (from, to) => !isWeb(to) || to === web2 || from === dClient)));

    assert.deepEqual(lab.agentPids(), pids, 'an agent restarted');
  });

  await scenario('natOutgoing: the outside sees the node address, or the pod address when off', async (c, step) => {
    const seen = (from: Peer, seenAs: string): Check => ({ from, to: lab.ext, probe: T80, allow: true, seenAs });
    const node1 = lab.node('node-1').ip;
    const node2 = lab.node('node-2').ip;
    await step('pool natOutgoing true: connections to the outside come from the node', () =>
      expectReach('natOutgoing true', [seen(dClient, node1), seen(web1, node1), seen(web2, node2), seen(pClient, node2)]));
    await step('pod to pod is never masqueraded', () =>
      expectReach('no NAT inside the pool', [{ from: dClient, to: web2, probe: T80, allow: true, seenAs: dClient.ip }, { from: web2, to: web1, probe: T80, allow: true, seenAs: web2.ip }]));
    await c.rewrite<{ spec: { natOutgoing?: boolean } }>(resourceKey('ippools', DEFAULT_POOL_NAME), (p) => {
      p.spec.natOutgoing = false;
    });
    await step('pool natOutgoing false: the outside sees the pod address', () =>
      expectReach('natOutgoing false', [seen(dClient, dClient.ip), seen(web1, web1.ip), seen(web2, web2.ip), seen(pClient, pClient.ip)]));
  });
}

type StepFn = (name: string, body: () => Promise<void>) => Promise<void>;

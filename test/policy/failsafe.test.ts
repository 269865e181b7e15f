/**
 * Failsafe ports: a `*` HostEndpoint on node-1 with a GlobalNetworkPolicy denying everything in
 * and out must not cut the node off. Felix's defaults (FailsafeInboundHostPorts tcp 22, 179,
 * 2379, 2380, 5473, 6443, 6666, 6667, udp 68; FailsafeOutboundHostPorts tcp 179, 2379, 2380, 5473,
 * 6443, 6666, 6667, udp 53, 67) still connect, any other port does not, forwarded pod traffic is
 * untouched (applyOnForward: false), and deleting the policy opens the node again; then the same
 * with a host endpoint that names the uplink (`eth0`) instead of `*`. Once per iptables backend.
 *
 *   ext (198.18.0.200) ──fabric── node-1 198.18.0.11: listeners on 22, 2379, 8081; 179 is the
 *                                 agent's BGP speaker (or ours if it does not listen)
 *                     └─ node-2 198.18.0.12
 */
import { test, type TestContext } from 'node:test';
import { startTcpServer, type TcpServer } from '../../src/lab/index.js';
import {
  BACKENDS, expectReach, globalNetworkPolicy, tcpListening, withPolicyLab,
  type CalicoResource, type Check, type Peer, type PolicyLab, type Probe,
} from './helpers.js';

const PODS = [
  { node: 'node-1', namespace: 'default', name: 'a', labels: { app: 'a' } },
  { node: 'node-2', namespace: 'default', name: 'b', labels: { app: 'b' } },
];
const BGP_PORT = 179;
/** Failsafe inbound ports we listen on ourselves (179 is usually the agent's). */
const FAILSAFE_IN = [22, 2379] as const;
/** Not a failsafe port in either direction. */
const OTHER_PORT = 8081;
/** A failsafe outbound port the external namespace listens on. */
const FAILSAFE_OUT = 2379;
const PER_BACKEND_TIMEOUT_MS = 300_000;

/** Profile a `*` host endpoint carries (kube-controllers' automatic ones use this name): allow both ways. */
const ALLOW_PROFILE: CalicoResource = {
  kind: 'Profile',
  metadata: { name: 'projectcalico-default-allow' },
  spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] },
};
const HOST_ENDPOINT: CalicoResource = {
  kind: 'HostEndpoint',
  metadata: { name: 'node-1-all', labels: { hep: 'all', 'kubernetes.io/hostname': 'node-1' } },
  spec: { node: 'node-1', interfaceName: '*', profiles: ['projectcalico-default-allow'] },
};
/** The lab nodes' uplink (src/lab/topology.ts). */
const UPLINK = 'eth0';
const NAMED_HOST_ENDPOINT: CalicoResource = {
  kind: 'HostEndpoint',
  metadata: { name: 'node-1-eth0', labels: { hep: 'eth0', 'kubernetes.io/hostname': 'node-1' } },
  spec: { node: 'node-1', interfaceName: UPLINK, profiles: ['projectcalico-default-allow'] },
};
const DENY_ALL = globalNetworkPolicy('deny-all-hep', {
  order: 10,
  selector: 'has(hep)',
  types: ['Ingress', 'Egress'],
  ingress: [{ action: 'Deny' }],
  egress: [{ action: 'Deny' }],
  applyOnForward: false,
});

for (const backend of BACKENDS) {
  test(`failsafe ports survive a deny-all host endpoint policy (FELIX_IPTABLESBACKEND=${backend})`, { timeout: PER_BACKEND_TIMEOUT_MS }, async (t) => {
    await withPolicyLab({ tag: `fs${backend.slice(0, 3)}`, backend, nodes: 2, pods: PODS, podPorts: [80] }, (lab) => failsafe(t, lab));
  });
}

async function failsafe(t: TestContext, lab: PolicyLab): Promise<void> {
  const node1 = lab.node('node-1');
  const node2 = lab.node('node-2');
  const servers: TcpServer[] = [];
  const c = lab.changes();
  try {
    const agentBgp = await tcpListening(node1.netns, BGP_PORT);
    for (const port of [...FAILSAFE_IN, ...(agentBgp ? [] : [BGP_PORT]), OTHER_PORT]) servers.push(await startTcpServer(node1.netns, port));
    servers.push(await startTcpServer(lab.ext.netns, FAILSAFE_OUT));

    const to = (from: Peer, dst: Peer, port: number, allow: boolean): Check => ({
      from, to: dst, probe: `tcp/${port}` as Probe, allow, ...(port === BGP_PORT && agentBgp ? { foreignListener: true } : {}),
    });
    const intoNode1 = (otherAllowed: boolean): Check[] => [
      ...[...FAILSAFE_IN, BGP_PORT].map((p) => to(lab.ext, node1, p, true)),
      to(lab.ext, node1, OTHER_PORT, otherAllowed),
      to(node2, node1, OTHER_PORT, otherAllowed),
    ];
    const outOfNode1 = (otherAllowed: boolean): Check[] => [to(node1, lab.ext, FAILSAFE_OUT, true), to(node1, lab.ext, 80, otherAllowed)];
    const forwarded: Check[] = [to(lab.peer('default/b'), lab.peer('default/a'), 80, true), to(lab.peer('default/a'), lab.peer('default/b'), 80, true)];

    await t.test(`before: node-1 answers on 22, 179${agentBgp ? " (the agent's BGP speaker)" : ''}, 2379 and ${OTHER_PORT}`, () =>
      expectReach('no host endpoint', [...intoNode1(true), ...outOfNode1(true), ...forwarded]));

    await c.put(ALLOW_PROFILE);
    await c.put(HOST_ENDPOINT);
    await t.test("a '*' host endpoint with an allow profile and no policy: still open", () =>
      expectReach('host endpoint, allow profile', [...intoNode1(true), ...outOfNode1(true), ...forwarded]));

    await c.put(DENY_ALL);
    await t.test(`deny-all policy: failsafe ports connect both ways, ${OTHER_PORT} in and tcp/80 out do not, forwarded pod traffic does`, () =>
      expectReach('deny-all host endpoint policy', [...intoNode1(false), ...outOfNode1(false), ...forwarded]));

    await c.delete(DENY_ALL);
    await t.test(`policy deleted: ${OTHER_PORT} connects again`, () => expectReach('policy deleted', [...intoNode1(true), ...outOfNode1(true), ...forwarded]));

    // The same with a host endpoint naming the uplink instead of '*'.
    await c.delete(HOST_ENDPOINT);
    await c.put(NAMED_HOST_ENDPOINT);
    await c.put(DENY_ALL);
    await t.test(`a host endpoint on ${UPLINK} with the deny-all policy: failsafe ports connect, ${OTHER_PORT} does not, forwarded pod traffic does`, () =>
      expectReach('named host endpoint, deny-all', [...intoNode1(false), ...outOfNode1(false), ...forwarded]));
    await c.delete(DENY_ALL);
    await t.test(`named host endpoint, policy deleted: ${OTHER_PORT} connects again`, () =>
      expectReach('named host endpoint, policy deleted', [...intoNode1(true), ...outOfNode1(true), ...forwarded]));
  } finally {
    await c.undo();
    for (const s of servers) await s.stop().catch(() => undefined);
  }
}

/**
 * IPv6 policy on the real kernel: the policy dataplane programs ip6tables and `cali60` sets from
 * the same messages as IPv4, and real TCP over IPv6 is allowed or refused by them. The lab is
 * IPv4, so this builds its own three namespaces:
 *
 *   client (fd00:18::2) ── eth1 ─ node (fd00:18::1, forwarding) ─ cali6test01 ── eth0  pod (fd00:65::5)
 *
 * The pod's default route goes via a link-local address on the node's side of its veth, as
 * Calico's CNI plugin sets it up; the node routes fd00:65::5/128 to the veth. The PolicyDataplane
 * runs from outside with `netns` set (nothing touches the root namespace).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyDataplane } from '../../src/dataplane/policy/policy-dataplane.js';
import { ProcessRunner } from '../../src/dataplane/exec.js';
import type { ParsedRule, PolicyMessage } from '../../src/proto/policy.js';
import { startTcpServer, tcpConnect, type TcpServer } from '../../src/lab/traffic.js';
import { run } from '../../src/lab/exec.js';
import { deleteAll, ip, makeNs, nsName, requireRoot, sh, sweepStale } from './topology.js';

const node = nsName('v6node');
const pod = nsName('v6pod');
const client = nsName('v6cli');
const POD_IP = 'fd00:65::5';
const CLIENT_IP = 'fd00:18::2';
const IFACE = 'cali6test01';
const servers: TcpServer[] = [];

function rule(o: Partial<ParsedRule>): ParsedRule {
  return {
    action: 'allow', srcNets: [], notSrcNets: [], dstNets: [], notDstNets: [], srcPorts: [], notSrcPorts: [], dstPorts: [], notDstPorts: [],
    srcIpSetIds: [], notSrcIpSetIds: [], dstIpSetIds: [], notDstIpSetIds: [], srcNamedPortIpSetIds: [], notSrcNamedPortIpSetIds: [],
    dstNamedPortIpSetIds: [], notDstNamedPortIpSetIds: [], ruleId: 'r', ...o,
  };
}

before(async () => {
  requireRoot();
  await sweepStale();
  for (const ns of [node, pod, client]) await makeNs(ns);
  await ip(node, 'link', 'add', IFACE, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod);
  await ip(node, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth1', 'netns', client);
  await ip(node, '-6', 'addr', 'add', 'fe80::1/64', 'dev', IFACE, 'nodad');
  await ip(node, '-6', 'addr', 'add', 'fd00:18::1/64', 'dev', 'eth1', 'nodad');
  await ip(client, '-6', 'addr', 'add', `${CLIENT_IP}/64`, 'dev', 'eth1', 'nodad');
  await ip(pod, '-6', 'addr', 'add', `${POD_IP}/128`, 'dev', 'eth0', 'nodad');
  for (const [ns, dev] of [[node, IFACE], [node, 'eth1'], [client, 'eth1'], [pod, 'eth0']] as const) await ip(ns, 'link', 'set', dev, 'up');
  await ip(pod, '-6', 'route', 'add', 'default', 'via', 'fe80::1', 'dev', 'eth0');
  await ip(client, '-6', 'route', 'add', 'default', 'via', 'fd00:18::1', 'dev', 'eth1');
  await ip(node, '-6', 'route', 'add', `${POD_IP}/128`, 'dev', IFACE);
  await sh(node, 'sysctl', '-w', 'net.ipv6.conf.all.forwarding=1');
  for (const port of [80, 8080]) servers.push(await startTcpServer(pod, port, { host: '::' }));
});

after(async () => {
  for (const s of servers) await s.stop();
  await deleteAll([node, pod, client]);
});

async function apply(pd: PolicyDataplane, msgs: PolicyMessage[]): Promise<void> {
  const rejected: unknown[] = [];
  pd.onMessages(msgs, (_k, input, e) => rejected.push({ input, e }));
  assert.deepEqual(rejected, []);
  for (const r of [await pd.ipsetsStep.updates(), await pd.iptablesStep.updates(), await pd.iptablesStep.deletions!(), await pd.ipsetsStep.deletions!()]) {
    assert.equal(r.failures, 0, r.errors.join('\n'));
  }
}

const reach = async (port: number) => (await tcpConnect(client, POD_IP, port, 1500)).ok;

test('IPv6: ip6tables chains and a cali60 set allow and refuse real TCP over IPv6', { timeout: 120_000 }, async () => {
  assert.equal(await reach(80), true, 'open before any policy (no rules yet)');
  const pd = new PolicyDataplane({
    runner: new ProcessRunner(), netns: node, ipVersions: [4, 6], backend: 'nft', render: {},
    iptablesRefreshMs: 0, ipsetsRefreshMs: 0, postWriteCheckMs: 0, kick: () => undefined,
  });
  const id = { tier: 'default', kind: 'NetworkPolicy' as const, namespace: 'default', name: 'web' };
  const allowAll = { inboundRules: [rule({})], outboundRules: [rule({})] };
  const endpoint = (tiers: boolean) => ({
    type: 'workload-endpoint-update' as const,
    id: { orchestrator: 'k8s', workload: 'default.web', endpoint: 'eth0' },
    endpoint: {
      state: 'active' as const, name: IFACE, profileIds: ['kns.default'], ipv4Nets: [], ipv6Nets: [`${POD_IP}/128`],
      tiers: tiers ? [{ name: 'default', ingressPolicies: [id], egressPolicies: [], defaultAction: 'Deny' as const }] : [],
    },
  });
  await apply(pd, [{ type: 'profile-update', id: 'kns.default', profile: allowAll }, endpoint(false)]);
  assert.equal(await reach(80), true, 'the namespace profile allows');
  assert.equal(await reach(8080), true);

  await apply(pd, [
    { type: 'ipset-update', id: 's:clients', setType: 'net', members: [CLIENT_IP, '10.0.0.1'] },
    {
      type: 'policy-update', id,
      policy: { namespace: 'default', inboundRules: [rule({ protocol: 'tcp', dstPorts: [{ first: 80, last: 80 }], srcIpSetIds: ['s:clients'] })], outboundRules: [], untracked: false, preDnat: false, applyOnForward: false },
    },
    endpoint(true),
  ]);
  const v6save = (await run(['ip', 'netns', 'exec', node, 'ip6tables-nft-save', '-t', 'filter'])).stdout;
  assert.match(v6save, /-A cali-pi-np\/default\/web .*--match-set cali60s:clients src/);
  const set = (await run(['ip', 'netns', 'exec', node, 'ipset', 'list', 'cali60s:clients'])).stdout;
  assert.match(set, /fd00:18::2/);
  assert.doesNotMatch(set, /10\.0\.0\.1/, 'the IPv4 member went to cali40s:clients only');
  assert.equal(await reach(80), true, 'allowed: tcp/80 from a member of the set');
  assert.equal(await reach(8080), false, 'refused: tcp/8080 matches no rule and the tier ends in Deny');

  await apply(pd, [{ type: 'ipset-delta', id: 's:clients', added: [], removed: [CLIENT_IP] }]);
  assert.equal(await reach(80), false, 'refused once the client left the set');
  pd.stop();
});

/**
 * Policy calculation in a running agent, against a real etcd: Calico NetworkPolicy, a
 * GlobalNetworkPolicy in a second tier and the namespace profile resolve for a local pod as Felix
 * resolves them, `tortie status policy <ns>/<pod>` shows them tier by tier with Felix's chain
 * names, a live policy change is followed without a restart, and the felix_* policy gauges count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { controlCall } from '../../src/agent/control.js';
import type { EndpointPolicyView } from '../../src/agent/policy-status.js';
import { podAdd, run, tortieArgv, waitFor } from '../../src/lab/index.js';
import { runIn } from '../../src/lab/netns.js';
import { resourceKey } from '../../src/datastore/keys.js';
import { withEtcd } from '../../src/lab/datastore.js';
import type { LabState } from '../../src/lab/state.js';
import { withRoutingLab } from './helpers.js';

async function put(lab: LabState, plural: string, name: string, value: Record<string, unknown>, namespace?: string): Promise<void> {
  await withEtcd(lab, (c) => c.put(resourceKey(plural, name, namespace)).value(JSON.stringify({ apiVersion: 'projectcalico.org/v3', ...value })).then(() => undefined));
}

async function metric(netns: string, name: string): Promise<number | undefined> {
  const r = await runIn(netns, ['curl', '-s', '-m', '2', 'http://127.0.0.1:9091/metrics'], { allowFailure: true });
  const line = r.stdout.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : undefined;
}

test('tortie status policy: tiers, order and chains of a local pod, followed live', { timeout: 300_000 }, async () => {
  await withRoutingLab(
    {
      tag: 'pol',
      nodes: 2,
      podsPerNode: 0,
      beforeAgents: async (lab) => {
        await podAdd(lab.name, 'node-1', 'web-1', { labels: { app: 'web' } });
        await podAdd(lab.name, 'node-2', 'db-1', { labels: { app: 'db' } });
        await put(lab, 'tiers', 'security', { kind: 'Tier', metadata: { name: 'security' }, spec: { order: 100 } });
        await put(lab, 'globalnetworkpolicies', 'deny-bad', {
          kind: 'GlobalNetworkPolicy', metadata: { name: 'deny-bad' },
          spec: { tier: 'security', order: 10, selector: 'all()', ingress: [{ action: 'Deny', source: { nets: ['192.0.2.0/24'] } }, { action: 'Pass' }] },
        });
        await put(lab, 'networkpolicies', 'allow-db', {
          kind: 'NetworkPolicy', metadata: { name: 'allow-db', namespace: 'default' },
          spec: { selector: "app == 'web'", egress: [{ action: 'Allow', protocol: 'TCP', destination: { selector: "app == 'db'", ports: [5432] } }] },
        }, 'default');
      },
    },
    async (rl) => {
      const st = rl.state();
      const node1 = st.nodes[0]!;
      const socket = node1.agent!.controlSocket;
      const view = () => controlCall<EndpointPolicyView>(socket, 'policy.endpoint', { namespace: 'default', pod: 'web-1' });
      await waitFor(async () => (await view().catch(() => undefined))?.tiers.length === 2, { timeoutMs: 30_000, what: 'both tiers resolved for web-1' });
      const v = await view();
      // Expected by hand from Felix's layout: tiers by order (security 100 before default),
      // chains cali-pi-/cali-po- + kind/namespace/name, profile chains cali-pri-/cali-pro-.
      assert.deepEqual(v.tiers, [
        { name: 'security', defaultAction: 'Deny', ingress: [{ policy: 'GlobalNetworkPolicy/deny-bad', chain: 'cali-pi-gnp/deny-bad' }], egress: [] },
        {
          name: 'default', defaultAction: 'Deny',
          ingress: [{ policy: 'NetworkPolicy/default/allow-db', chain: 'cali-pi-np/default/allow-db' }],
          egress: [{ policy: 'NetworkPolicy/default/allow-db', chain: 'cali-po-np/default/allow-db' }],
        },
      ]);
      assert.deepEqual(v.profiles.map((p) => [p.name, p.ingressChain, p.egressChain]), [
        ['kns.default', 'cali-pri-kns.default', 'cali-pro-kns.default'],
        ['ksa.default.default', 'cali-pri-ksa.default.default', 'cali-pro-ksa.default.default'],
      ]);
      assert.equal(v.chains.toEndpoint, `cali-tw-${v.interfaceName}`);
      assert.equal(v.chains.fromEndpoint, `cali-fw-${v.interfaceName}`);

      const text = await run([...tortieArgv(), 'status', 'policy', 'default/web-1', '--socket', socket]);
      assert.match(text.stdout, /tier security \(end of tier: Deny\)\n {4}ingress:\n {6}1\. GlobalNetworkPolicy\/deny-bad {2}\[cali-pi-gnp\/deny-bad\]/);
      const missing = await run([...tortieArgv(), 'status', 'policy', 'default/nope', '--socket', socket], { allowFailure: true });
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /no endpoint of pod default\/nope on this node/);

      await waitFor(async () => (await metric(node1.netns, 'felix_active_local_policies')) === 2, { timeoutMs: 15_000, what: 'felix_active_local_policies 2' });
      // deny-bad has no selector-based rules; allow-db's destination is one selector set.
      assert.equal(await metric(node1.netns, 'felix_active_local_selectors'), 1);
      assert.equal(await metric(node1.netns, 'felix_cluster_num_tiers'), 2);

      // Live: the GNP now selects db pods only, so web-1 loses the security tier.
      await put(st, 'globalnetworkpolicies', 'deny-bad', {
        kind: 'GlobalNetworkPolicy', metadata: { name: 'deny-bad' },
        spec: { tier: 'security', order: 10, selector: "app == 'db'", ingress: [{ action: 'Deny' }] },
      });
      await waitFor(async () => (await view()).tiers.map((t) => t.name).join() === 'default', { timeoutMs: 15_000, what: 'web-1 down to the default tier' });
      await waitFor(async () => (await metric(node1.netns, 'felix_active_local_policies')) === 1, { timeoutMs: 15_000, what: 'felix_active_local_policies 1' });
    },
  );
});

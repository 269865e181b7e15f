/**
 * Upgrade in place, crash-restart and uninstall, on the real kernel of a lab node.
 *
 * The starting state: what calico-node's Felix leaves on a node when it is replaced. tortie's
 * renderer writes Felix's layout (same chain names, rule order and `cali:` hashes), so the test
 * first lets tortie program node-1, stops it, and then turns that state into an older Felix's:
 *   - a policy chain of a policy that no longer exists (`cali-pi-gnp/felix-old`) and its IP set;
 *   - one rule in the pod's `cali-tw-` chain written with another hash (another Felix version);
 *   - a pod created while no agent runs, so the dispatch chains end in "Unknown interface" for it
 *     (the case that cuts new pods off after a switch);
 *   - foreign state that must survive: a KUBE- chain with a jump from INPUT, a foreign IP set.
 * Then, with a pod on node-2 pinging the running pod every 20 ms:
 *   1. tortie starts on node-1: no ping is lost, the new pod becomes reachable, what was stale is
 *      removed, the odd rule is rewritten, a denied pod stays denied, the foreign state stays;
 *   2. tortie is SIGKILLed and started again: no ping is lost, nothing is rewritten
 *      (felix_iptables_restore_calls stays 0 after the restart), the deny still holds;
 *   2b. tamper (a deleted rule of ours, a foreign rule in a cali- chain, a flushed cali40 set) is
 *      repaired by the next read-back (refresh intervals 5 s here);
 *   3. `tortie agent cleanup` after the agent stopped: nothing of ours is left, on either
 *      backend, and the foreign state is still there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { agentStart, agentStop, podAdd, run, runIn, tortieArgv, waitFor, type LabState, type PodState } from '../../src/lab/index.js';
import { agentOpts, putResource, withRoutingLab } from '../routing/helpers.js';

const v3 = { apiVersion: 'projectcalico.org/v3' };

async function ready(lab: LabState, node: string): Promise<boolean> {
  const n = lab.nodes.find((x) => x.name === node)!;
  const r = await runIn(n.netns, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:9099/readiness'], { allowFailure: true, timeoutMs: 5000 });
  return r.stdout.trim() === '200';
}

async function metric(netns: string, name: string): Promise<number> {
  const r = await runIn(netns, ['curl', '-s', '-m', '2', 'http://127.0.0.1:9091/metrics'], { allowFailure: true });
  const line = r.stdout.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

async function pings(from: PodState, to: PodState): Promise<boolean> {
  const r = await runIn(from.netns, ['ping', '-n', '-c', '1', '-W', '1', to.ip], { allowFailure: true, timeoutMs: 5000 });
  return r.code === 0;
}

/** A ping every 20 ms from `from` to `to` until stopped; resolves the numbers ping printed. */
function pingLoop(from: PodState, to: PodState): { stop: () => Promise<{ sent: number; received: number }> } {
  const child = spawn('ip', ['netns', 'exec', from.netns, 'ping', '-n', '-i', '0.02', to.ip], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return {
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
      const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
      if (!m) throw new Error(`no ping summary: ${out.slice(-300)}`);
      return { sent: Number(m[1]), received: Number(m[2]) };
    },
  };
}

async function save(netns: string, bin = 'iptables-nft-save'): Promise<string> {
  return (await runIn(netns, [bin])).stdout;
}

async function sets(netns: string): Promise<string[]> {
  return (await runIn(netns, ['ipset', 'list', '-n'])).stdout.split('\n').filter(Boolean);
}

test('upgrade in place from a Felix-shaped node, crash-restart, then uninstall', { timeout: 600_000 }, async () => {
  await withRoutingLab(
    {
      tag: 'tko',
      nodes: 2,
      podsPerNode: 0,
      agentEnv: { FELIX_IPTABLESBACKEND: 'nft', FELIX_IPTABLESREFRESHINTERVAL: '5', FELIX_IPSETSREFRESHINTERVAL: '5' },
      beforeAgents: async (lab) => {
        await podAdd(lab.name, 'node-1', 'web-1', { labels: { app: 'web' } });
        await podAdd(lab.name, 'node-2', 'client', { labels: { app: 'client' } });
        await podAdd(lab.name, 'node-2', 'other', { labels: { app: 'other' } });
        await putResource(lab, 'networkpolicies', 'default/web', {
          ...v3, kind: 'NetworkPolicy', metadata: { name: 'web', namespace: 'default' },
          spec: { selector: "app == 'web'", types: ['Ingress'], ingress: [{ action: 'Allow', source: { selector: "app == 'client'" } }] },
        });
      },
    },
    async (rl) => {
      const env = { FELIX_IPTABLESBACKEND: 'nft', FELIX_IPTABLESREFRESHINTERVAL: '5', FELIX_IPSETSREFRESHINTERVAL: '5' };
      let st = rl.state();
      const node1 = st.nodes.find((n) => n.name === 'node-1')!;
      const pod = (name: string) => rl.state().pods.find((p) => p.name === name)!;
      const web = pod('web-1');
      const client = pod('client');
      const other = pod('other');
      await waitFor(() => pings(client, web), { timeoutMs: 60_000, what: 'client reaches web-1' });
      await waitFor(async () => !(await pings(other, web)), { timeoutMs: 30_000, what: 'other denied by the policy on web-1' });

      // ---- the node as an older Felix leaves it ----
      await agentStop(rl.name, 'node-1');
      const twChain = `cali-tw-${web.iface}`;
      const before = await save(node1.netns);
      assert.match(before, new RegExp(`-A ${twChain} .*RELATED,ESTABLISHED -j ACCEPT`));
      const felixState = [
        '*filter',
        ':cali-pi-gnp/felix-old - [0:0]',
        ':KUBE-FIREWALL - [0:0]',
        '-A cali-pi-gnp/felix-old -m comment --comment "cali:felixOldRule00001" -m set --match-set cali40s:felixOldSet src -j MARK --set-xmark 0x10000/0x10000',
        `-R ${twChain} 1 -m comment --comment "cali:olderFelixHash001" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
        '-A KUBE-FIREWALL -m comment --comment "kubernetes firewall" -m mark --mark 0x8000/0x8000 -j DROP',
        '-A INPUT -j KUBE-FIREWALL',
        'COMMIT',
        '',
      ].join('\n');
      await runIn(node1.netns, ['ipset', 'create', 'cali40s:felixOldSet', 'hash:ip']);
      await runIn(node1.netns, ['ipset', 'create', 'KUBE-FOREIGN', 'hash:ip']);
      await run(['ip', 'netns', 'exec', node1.netns, 'iptables-nft-restore', '--noflush'], { input: felixState });
      // A pod created while no agent runs: its interface is in no dispatch chain yet.
      const late = await podAdd(rl.name, 'node-1', 'web-2', { labels: { app: 'web' } });
      assert.equal(await pings(client, late), false, 'the new pod is cut off while only the old chains exist');

      // ---- 1. tortie takes over under traffic ----
      let loop = pingLoop(client, web);
      await new Promise((r) => setTimeout(r, 500));
      await agentStart(rl.name, 'node-1', agentOpts(env));
      st = rl.state();
      await waitFor(() => ready(st, 'node-1'), { timeoutMs: 60_000, intervalMs: 250, what: 'node-1 ready after takeover' });
      await waitFor(() => pings(client, late), { timeoutMs: 30_000, what: 'the pod created before the switch is reachable' });
      await new Promise((r) => setTimeout(r, 1000));
      let res = await loop.stop();
      assert.ok(res.sent > 50, `pinged ${res.sent} times`);
      assert.equal(res.received, res.sent, `pings lost during the takeover: ${res.sent - res.received} of ${res.sent}`);
      assert.equal(await pings(other, web), false, 'still denied after the takeover');
      const after = await save(node1.netns);
      assert.doesNotMatch(after, /felix-old|felixOldRule|olderFelixHash/);
      assert.match(after, new RegExp(`-A ${twChain} -m comment --comment "cali:[\\w-]{16}" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`));
      assert.match(after, /-A INPUT -j KUBE-FIREWALL/);
      assert.match(after, /-A KUBE-FIREWALL -m comment --comment "kubernetes firewall"/);
      await waitFor(async () => !(await sets(node1.netns)).includes('cali40s:felixOldSet'), { timeoutMs: 20_000, what: 'the stale Felix set destroyed' });
      assert.ok((await sets(node1.netns)).includes('KUBE-FOREIGN'));

      // ---- 2. SIGKILL and restart: nothing lost, nothing rewritten ----
      const settled = await save(node1.netns);
      loop = pingLoop(client, web);
      await new Promise((r) => setTimeout(r, 500));
      await agentStop(rl.name, 'node-1', { kill: true });
      await new Promise((r) => setTimeout(r, 500));
      await agentStart(rl.name, 'node-1', agentOpts(env));
      await waitFor(() => ready(rl.state(), 'node-1'), { timeoutMs: 60_000, intervalMs: 250, what: 'node-1 ready after SIGKILL' });
      // Past the post-write check (5 s): a rewrite would show by then.
      await new Promise((r) => setTimeout(r, 6000));
      res = await loop.stop();
      assert.equal(res.received, res.sent, `pings lost across the crash-restart: ${res.sent - res.received} of ${res.sent}`);
      assert.equal(await metric(node1.netns, 'felix_iptables_restore_calls'), 0, 'a restart on an unchanged node writes no iptables');
      assert.equal(await pings(other, web), false, 'still denied after the crash-restart');
      const strip = (s: string) => s.split('\n').filter((l) => !l.startsWith('#')).join('\n');
      assert.equal(strip(await save(node1.netns)), strip(settled), 'the tables are exactly as before the crash');

      // ---- 2b. tamper: each repaired by the next read-back ----
      const setName = (await sets(node1.netns)).find((n) => n.startsWith('cali40s:'));
      assert.ok(setName, 'the policy source selector has its IP set');
      const fwChain = `cali-fw-${web.iface}`;
      // A deleted rule of ours (the RELATED,ESTABLISHED accept at the top of cali-tw-).
      await runIn(node1.netns, ['iptables-nft', '-D', twChain, '1']);
      // A foreign rule slipped into one of our chains.
      await runIn(node1.netns, ['iptables-nft', '-I', fwChain, '1', '-j', 'ACCEPT']);
      // The client's address flushed out of the source set: the client is cut off until repaired.
      await runIn(node1.netns, ['ipset', 'flush', setName]);
      await waitFor(
        async () => {
          const t = await save(node1.netns);
          return new RegExp(`-A ${twChain} -m comment --comment "cali:[\\w-]{16}" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`).test(t) && !new RegExp(`-A ${fwChain} -j ACCEPT`).test(t);
        },
        { timeoutMs: 30_000, intervalMs: 500, what: 'the deleted rule restored and the foreign rule removed' },
      );
      await waitFor(async () => (await runIn(node1.netns, ['ipset', 'list', setName])).stdout.includes(client.ip), { timeoutMs: 30_000, intervalMs: 500, what: 'the flushed set refilled' });
      await waitFor(() => pings(client, web), { timeoutMs: 10_000, what: 'client reaches web-1 again after the repair' });
      assert.equal(await pings(other, web), false, 'still denied after the repair');
      assert.ok((await metric(node1.netns, 'tortie_dataplane_repairs_total{kind="iptables"}')) > 0, 'iptables drift counted');
      assert.ok((await metric(node1.netns, 'tortie_dataplane_repairs_total{kind="ipset"}')) > 0, 'IP set drift counted');

      // ---- 3. uninstall ----
      await agentStop(rl.name, 'node-1');
      const r = await run(['ip', 'netns', 'exec', node1.netns, ...tortieArgv(), 'agent', 'cleanup', '--json'], { allowFailure: true, timeoutMs: 120_000 });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      for (const bin of ['iptables-nft-save', 'ip6tables-nft-save', 'iptables-legacy-save', 'ip6tables-legacy-save']) {
        const text = await save(node1.netns, bin);
        assert.doesNotMatch(text, /cali/, `${bin} still holds something of ours`);
      }
      const left = await save(node1.netns);
      assert.match(left, /-A INPUT -j KUBE-FIREWALL/);
      assert.deepEqual((await sets(node1.netns)).filter((s) => s.startsWith('cali')), []);
      assert.ok((await sets(node1.netns)).includes('KUBE-FOREIGN'));
      const routes = (await runIn(node1.netns, ['ip', 'route', 'show', 'proto', '80'])).stdout.trim();
      assert.equal(routes, '');
      // Workload routes belong to the pods (the CNI plugin removes them): still there.
      assert.match((await runIn(node1.netns, ['ip', 'route', 'show', `${web.ip}/32`])).stdout, new RegExp(web.iface));
    },
  );
});

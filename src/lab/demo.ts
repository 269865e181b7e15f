/**
 * `tortie lab demo` (`sudo make demo`): a 3-node lab with etcd and a BIRD peer, two pods per
 * node and an agent on every node; shows what is there, then tears it all down, also on Ctrl-C
 * or a failed step. The demo is a list of steps so later work adds a step instead of editing a
 * script. Routing steps: cross-node ping in BGP mode, the routes and BIRD's table, `tortie status`,
 * a policy enforced and shown as the agent resolves it (`tortie status policy`), then the pool switched to VXLAN
 * without restarting anything and the ping again.
 */
import { agentStart, podAdd, labStatus } from './lab.js';
import { icmpPing, startTcpServer, tcpConnect } from './traffic.js';
import { labDown, sweepStale } from './teardown.js';
import { labUp } from './up.js';
import { AGENT_HEALTH_PORT, tortieArgv } from './agent.js';
import { birdcArgv } from './bird.js';
import { etcdctlArgv } from './etcd.js';
import { run, waitFor } from './exec.js';
import { labNetnsPrefix } from './names.js';
import { netnsList, runIn } from './netns.js';
import { loadLab, type LabState } from './state.js';
import { RESOURCE_PREFIX, resourceKey } from '../datastore/keys.js';
import { withEtcd } from './datastore.js';
import { DEFAULT_POOL_NAME } from './calico-resources.js';
import { errorMessage } from '../util/errors.js';

export interface DemoContext {
  name: string;
  lab?: LabState;
  /** Leave the lab up afterwards: then it has no owner and only `down` removes it. */
  keep: boolean;
  /** How long to wait for the agents' /readiness. */
  readyWaitMs: number;
  out: (line: string) => void;
}

export interface DemoStep {
  title: string;
  /** A failed step is reported; `required` steps also end the demo (later steps depend on them). */
  required?: boolean;
  run(ctx: DemoContext): Promise<void>;
}

const NODES = 3;
const PODS_PER_NODE = 2;
/** How long the demo waits for each agent's /readiness; matches Calico's 30 s BGP grace. */
const READY_WAIT_MS = 30_000;

function lab(ctx: DemoContext): LabState {
  if (!ctx.lab) throw new Error('the lab is not up');
  return ctx.lab;
}

function indent(text: string): string {
  return text.trimEnd().split('\n').map((l) => `    ${l}`).join('\n');
}

async function httpCode(netns: string, path: string): Promise<string> {
  const r = await runIn(netns, ['curl', '-s', '-o', '/dev/null', '-m', '2', '-w', '%{http_code}', `http://127.0.0.1:${AGENT_HEALTH_PORT}${path}`], {
    allowFailure: true,
    timeoutMs: 5000,
  });
  return r.stdout.trim() === '000' || r.stdout.trim() === '' ? 'no answer' : r.stdout.trim();
}

/** The "reason" of the agent's JSON readiness report, else the start of whatever it sent. */
function readinessReason(body: string): string {
  try {
    const r = (JSON.parse(body) as { reason?: unknown }).reason;
    if (typeof r === 'string') return r;
  } catch {
    /* not JSON */
  }
  return body.trim().slice(0, 300);
}

/** Every pod pings every other pod (retrying for a while: routes converge in seconds). */
async function pingAll(ctx: DemoContext, timeoutMs = 30_000): Promise<void> {
  const pods = labStatus(ctx.name).pods;
  const deadline = Date.now() + timeoutMs;
  let failed: string[] = [];
  do {
    failed = [];
    for (const a of pods) {
      for (const b of pods) {
        if (a === b) continue;
        const r = await runIn(a.netns, ['ping', '-n', '-c', '1', '-W', '1', b.ip], { allowFailure: true, timeoutMs: 5000 });
        if (r.code !== 0) failed.push(`${a.name}->${b.name}`);
      }
    }
    if (failed.length === 0) break;
    await new Promise((r) => setTimeout(r, 1000));
  } while (Date.now() < deadline);
  const pairs = pods.length * (pods.length - 1);
  ctx.out(`${pairs - failed.length}/${pairs} pod pairs reach each other${failed.length ? `; failing: ${failed.join(', ')}` : ''}`);
  if (failed.length) throw new Error(`${failed.length} pod pairs cannot reach each other`);
}

export const demoSteps: DemoStep[] = [
  {
    title: `Bring up a ${NODES}-node lab with etcd and a BIRD peer`,
    required: true,
    async run(ctx) {
      // A demo that crashed (or was killed) left its lab behind with a dead owner: sweep it, as
      // `make test` does, instead of refusing with "already exists". A live or kept lab stays.
      const swept = await sweepStale();
      if (swept.length) ctx.out(`swept stale labs left by an earlier run: ${swept.join(', ')}`);
      ctx.lab = await labUp({ name: ctx.name, nodes: NODES, birdPeer: true, ownerPid: ctx.keep ? 0 : process.pid });
      ctx.out(`fabric 198.18.0.0/24, etcd ${ctx.lab.etcd!.endpoint}, BIRD ${ctx.lab.bird!.ip} (AS ${ctx.lab.bird!.asNumber}, route reflector)`);
    },
  },
  {
    title: `Add ${PODS_PER_NODE} pods per node (Calico CNI + IPAM)`,
    required: true,
    async run(ctx) {
      let k = 0;
      for (const n of lab(ctx).nodes) {
        for (let i = 0; i < PODS_PER_NODE; i++) {
          const p = await podAdd(ctx.name, n.name, `web-${++k}`, { labels: { app: 'web' } });
          ctx.out(`${p.namespace}/${p.name} on ${p.node}: ${p.ip} (block ${p.block}, ${p.iface})`);
        }
      }
    },
  },
  {
    title: 'Start tortie agent on every node',
    async run(ctx) {
      let failed = 0;
      for (const n of lab(ctx).nodes) {
        try {
          const a = await agentStart(ctx.name, n.name);
          ctx.out(`${n.name}: pid ${a.pid}, log ${a.logFile}`);
        } catch (e) {
          failed++;
          // The first line says why; the full log tail is in the agent's log file.
          ctx.out(`${n.name}: ${errorMessage(e).split('\n').slice(0, 2).join(' ')}`);
        }
      }
      if (failed) throw new Error(`${failed} of ${lab(ctx).nodes.length} agents did not start`);
    },
  },
  {
    title: 'Namespaces',
    async run(ctx) {
      ctx.out(netnsList().filter((n) => n.startsWith(labNetnsPrefix(ctx.name))).join('\n'));
    },
  },
  {
    title: `Agent health (curl inside each node namespace, port ${AGENT_HEALTH_PORT})`,
    async run(ctx) {
      const deadline = Date.now() + ctx.readyWaitMs;
      let bad = 0;
      for (const st of labStatus(ctx.name).nodes) {
        const n = lab(ctx).nodes.find((x) => x.name === st.name)!;
        if (!st.agentRunning) {
          bad++;
          ctx.out(`${n.name} (${n.ip}): no agent running`);
          continue;
        }
        let ready = await httpCode(n.netns, '/readiness');
        while (ready !== '200' && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 500));
          ready = await httpCode(n.netns, '/readiness');
        }
        const live = await httpCode(n.netns, '/liveness');
        ctx.out(`${n.name} (${n.ip}): /liveness ${live}, /readiness ${ready}`);
        if (live !== '200' || ready !== '200') {
          bad++;
          // The agent's own explanation (which component is not ready yet).
          const body = await runIn(n.netns, ['curl', '-s', '-m', '2', `http://127.0.0.1:${AGENT_HEALTH_PORT}/readiness`], { allowFailure: true, timeoutMs: 5000 });
          if (body.stdout.trim()) ctx.out(`  why: ${readinessReason(body.stdout)}`);
        }
      }
      if (bad) throw new Error(`${bad} node(s) not live and ready`);
    },
  },
  {
    title: 'Pods',
    async run(ctx) {
      for (const p of labStatus(ctx.name).pods) ctx.out(`${`${p.namespace}/${p.name}`.padEnd(16)} ${p.node.padEnd(8)} ${p.ip.padEnd(12)} ${p.iface}`);
    },
  },
  {
    title: 'WorkloadEndpoints in etcd (etcdctl from inside node-1)',
    async run(ctx) {
      const s = lab(ctx);
      const r = await runIn(s.nodes[0]!.netns, etcdctlArgv(s.etcd!.endpoint, 'get', '--prefix', '--keys-only', `${RESOURCE_PREFIX}workloadendpoints/`));
      ctx.out(r.stdout.split('\n').filter(Boolean).join('\n'));
    },
  },
  {
    title: 'BIRD peer: birdc show protocols',
    async run(ctx) {
      const r = await run(birdcArgv(lab(ctx).bird!.controlSocket, 'show', 'protocols'));
      ctx.out(r.stdout);
    },
  },
  {
    title: 'Cross-node ping between every pair of pods (BGP mesh, no encapsulation)',
    async run(ctx) {
      await pingAll(ctx);
    },
  },
  {
    title: 'Routes on node-1: pod /32s, blackhole for its own block (proto 80), the other blocks via BGP (proto 81)',
    async run(ctx) {
      const r = await runIn(lab(ctx).nodes[0]!.netns, ['ip', 'route', 'show', 'table', 'main']);
      ctx.out(r.stdout);
    },
  },
  {
    title: 'BIRD peer learned every pod block: birdc show route',
    async run(ctx) {
      const r = await run(birdcArgv(lab(ctx).bird!.controlSocket, 'show', 'route'));
      ctx.out(r.stdout);
    },
  },
  {
    title: 'tortie status on node-1',
    async run(ctx) {
      const socket = loadLab(ctx.name).nodes[0]?.agent?.controlSocket;
      if (!socket) throw new Error('no agent on node-1');
      const r = await run([...tortieArgv(), 'status', '--socket', socket], { allowFailure: true });
      ctx.out(r.stdout || r.stderr);
      if (r.code !== 0) throw new Error(`tortie status exited ${r.code}`);
    },
  },
  {
    title: 'Policy enforced: a NetworkPolicy lets app=web pods in on TCP 80 only; tortie status policy, then it is deleted again',
    async run(ctx) {
      const s = lab(ctx);
      const pods = labStatus(ctx.name).pods;
      const target = pods.find((p) => p.node === s.nodes[0]!.name);
      const client = pods.find((p) => p.node !== s.nodes[0]!.name);
      if (!target || !client) throw new Error('the demo needs a pod on node-1 and one elsewhere');
      const policy = {
        apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy',
        metadata: { name: 'web-ingress', namespace: target.namespace },
        spec: { selector: "app == 'web'", types: ['Ingress'], ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: "app == 'web'" }, destination: { ports: [80] } }] },
      };
      const key = resourceKey('networkpolicies', policy.metadata.name, policy.metadata.namespace);
      const servers = [await startTcpServer(target.netns, 80), await startTcpServer(target.netns, 8080)];
      const check = async (): Promise<string> => {
        const [t80, t8080, icmp] = [await tcpConnect(client.netns, target.ip, 80), await tcpConnect(client.netns, target.ip, 8080), await icmpPing(client.netns, target.ip)];
        const word = (ok: boolean) => (ok ? 'allowed' : 'denied');
        return `${client.name} -> ${target.name}: tcp/80 ${word(t80.ok)}, tcp/8080 ${word(t8080.ok)}, ping ${word(icmp.ok)}`;
      };
      const until = async (want: string): Promise<string> => {
        let got = '';
        await waitFor(async () => (got = await check()) === want, { timeoutMs: 15_000, intervalMs: 500, what: want }).catch(() => {
          throw new Error(`expected "${want}", got "${got}"`);
        });
        return got;
      };
      const open = `${client.name} -> ${target.name}: tcp/80 allowed, tcp/8080 allowed, ping allowed`;
      const enforced = `${client.name} -> ${target.name}: tcp/80 allowed, tcp/8080 denied, ping denied`;
      try {
        ctx.out(`before: ${await until(open)}`);
        await withEtcd(s, (c) => c.put(key).value(JSON.stringify(policy)).then(() => undefined));
        ctx.out(`NetworkPolicy ${policy.metadata.namespace}/${policy.metadata.name}: allow TCP 80 from app=web, nothing else`);
        ctx.out(`with the policy: ${await until(enforced)}`);
        const socket = loadLab(ctx.name).nodes[0]?.agent?.controlSocket;
        if (!socket) throw new Error('no agent on node-1');
        const r = await run([...tortieArgv(), 'status', 'policy', `${target.namespace}/${target.name}`, '--socket', socket], { allowFailure: true });
        ctx.out(r.stdout || r.stderr);
        const chains = await runIn(s.nodes[0]!.netns, ['iptables-save', '-t', 'filter'], { allowFailure: true });
        const chain = /\[(cali-pi-[^\]]+)\]/.exec(r.stdout)?.[1];
        const mine = chain ? chains.stdout.split('\n').filter((l) => l.startsWith(`-A ${chain} `)) : [];
        ctx.out(`node-1 iptables-save -t filter, the policy's chain ${chain ?? '(not found)'}:\n${mine.join('\n')}`);
        await withEtcd(s, (c) => c.delete().key(key).then(() => undefined));
        ctx.out(`policy deleted: ${await until(open)}`);
      } finally {
        await withEtcd(s, (c) => c.delete().key(key).then(() => undefined)).catch(() => undefined);
        for (const srv of servers) await srv.stop();
      }
    },
  },
  {
    title: 'Switch the pool to VXLAN (agents keep running) and ping again',
    async run(ctx) {
      const s = lab(ctx);
      await withEtcd(s, async (c) => {
        const key = resourceKey('ippools', DEFAULT_POOL_NAME);
        const pool = JSON.parse((await c.get(key).string()) ?? 'null') as { spec: Record<string, unknown> } | null;
        if (!pool) throw new Error(`no pool ${DEFAULT_POOL_NAME}`);
        pool.spec.vxlanMode = 'Always';
        await c.put(key).value(JSON.stringify(pool));
      });
      ctx.out(`IPPool ${DEFAULT_POOL_NAME}: vxlanMode Always`);
      const deadline = Date.now() + 30_000;
      let routes = '';
      while (Date.now() < deadline) {
        routes = (await runIn(s.nodes[0]!.netns, ['ip', 'route', 'show', 'table', 'main'])).stdout;
        if ((routes.match(/vxlan\.calico/g) ?? []).length >= s.nodes.length - 1) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      ctx.out(`node-1 routes now:\n${routes.trimEnd()}`);
      await pingAll(ctx);
    },
  },
];

/** Runs the demo; resolves with the exit code (0 when every step passed). */
export async function runDemo(o: { name?: string; keep?: boolean; readyWaitMs?: number; out?: (s: string) => void } = {}): Promise<number> {
  const write = o.out ?? ((s: string) => process.stdout.write(s + '\n'));
  const ctx: DemoContext = { name: o.name ?? 'demo', keep: !!o.keep, readyWaitMs: o.readyWaitMs ?? READY_WAIT_MS, out: (l) => write(indent(l)) };
  let failures = 0;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    write('\ninterrupted: tearing the lab down...');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    let i = 0;
    for (const step of demoSteps) {
      if (interrupted) break;
      write(`\n== ${++i}. ${step.title} ==`);
      try {
        await step.run(ctx);
      } catch (e) {
        failures++;
        ctx.out(`FAILED: ${errorMessage(e)}`);
        if (step.required) break;
      }
    }
  } finally {
    if (o.keep && !interrupted) {
      write(`\nlab ${ctx.name} left up; remove it with: sudo tortie lab down ${ctx.name}`);
    } else {
      write(`\n== Tear down ==`);
      await labDown(ctx.name).then(
        () => ctx.out(`lab ${ctx.name} removed`),
        (e: unknown) => ctx.out(`teardown FAILED: ${errorMessage(e)}`),
      );
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return failures === 0 && !interrupted ? 0 : 1;
}

/**
 * Shared helpers of the routing end-to-end tests: a lab with agents on every node, pods, and the
 * checks (pod-to-pod ping matrix, `ip route` per node, BIRD's table) the tests assert on.
 */
import { resourceKey } from '../../src/datastore/keys.js';
import {
  agentStartAll, labUp, labDown, podAdd, requireRoot, runIn, waitFor, withEtcd, birdcArgv, run, icmpPing,
  type LabState, type LabUpOptions, type PodState, type AgentStartOptions,
} from '../../src/lab/index.js';
import { loadLab } from '../../src/lab/state.js';

export const POOL_CIDR = '10.65.0.0/16';

let seq = 0;
/** A lab name unique to this process and call (labs run concurrently with other helpers'). */
export function labName(tag: string): string {
  return `rt${tag}${process.pid % 100000}${seq++}`.slice(0, 12);
}

export interface RoutingLab {
  name: string;
  state(): LabState;
  pods: PodState[];
}

/** Lab up, 2 pods per node, agents on every node; always torn down (labDown in finally). */
export async function withRoutingLab(
  o: Omit<LabUpOptions, 'name'> & { tag: string; podsPerNode?: number; agentEnv?: Record<string, string>; beforeAgents?: (lab: LabState) => Promise<void> },
  fn: (lab: RoutingLab) => Promise<void>,
): Promise<void> {
  requireRoot();
  const name = labName(o.tag);
  const { tag: _t, podsPerNode: _p, agentEnv: _e, beforeAgents: _b, ...up } = o;
  await labUp({ ...up, name });
  try {
    // labUp writes the pool's encapsulation modes (o.pool) into the IPPool it creates.
    const st = loadLab(name);
    const pods: PodState[] = [];
    for (const n of st.nodes) {
      for (let i = 0; i < (o.podsPerNode ?? 2); i++) pods.push(await podAdd(name, n.name, `p${n.index}x${i}`));
    }
    await o.beforeAgents?.(loadLab(name));
    await startAgents(name, o.agentEnv);
    await fn({ name, state: () => loadLab(name), pods });
  } finally {
    await labDown(name).catch((e: unknown) => console.error(`labDown ${name}:`, e));
  }
}

export function agentOpts(env: Record<string, string> = {}): AgentStartOptions {
  return { env: { FELIX_ROUTEREFRESHINTERVAL: '5', ...env } };
}

export async function startAgents(name: string, env?: Record<string, string>): Promise<void> {
  await agentStartAll(name, agentOpts(env));
}

/** Ping from one pod to another: true when one echo reply comes back. */
export async function ping(from: PodState, to: PodState, count = 1): Promise<boolean> {
  return (await icmpPing(from.netns, to.ip, { count })).ok;
}

/** Every pod pings every other pod; returns the failing pairs. */
export async function pingMatrix(pods: readonly PodState[]): Promise<string[]> {
  const failed: string[] = [];
  for (const a of pods) for (const b of pods) if (a !== b && !(await ping(a, b))) failed.push(`${a.name}->${b.name}`);
  return failed;
}

/** Waits until every pod reaches every other pod (or throws with the pairs that still fail). */
export async function waitAllPing(pods: readonly PodState[], timeoutMs = 60_000): Promise<void> {
  let last: string[] = [];
  await waitFor(
    async () => {
      last = await pingMatrix(pods);
      return last.length === 0;
    },
    { timeoutMs, intervalMs: 1000, what: 'every pod to reach every other pod' },
  ).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}; failing: ${last.join(', ')}`);
  });
}

export interface KRoute {
  dst: string;
  type?: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  flags?: string[];
}

export async function routesOf(netns: string): Promise<KRoute[]> {
  const r = await runIn(netns, ['ip', '-json', '-4', 'route', 'show', 'table', 'main']);
  return JSON.parse(r.stdout || '[]') as KRoute[];
}

/** The routes under the pool, as `dst type gw dev proto` strings, sorted. */
export async function poolRoutes(netns: string): Promise<string[]> {
  const all = await routesOf(netns);
  return all
    .filter((r) => r.dst.startsWith('10.65.'))
    .map((r) => [r.dst, r.type ?? 'unicast', r.gateway ?? '-', r.dev ?? '-', r.protocol ?? '-', (r.flags ?? []).includes('onlink') ? 'onlink' : ''].join(' ').trim())
    .sort();
}

export async function birdRoutes(lab: LabState): Promise<string> {
  if (!lab.bird) throw new Error('lab has no BIRD peer');
  const r = await run(birdcArgv(lab.bird.controlSocket, 'show', 'route'), { allowFailure: true });
  return r.stdout;
}

export async function putResource(lab: LabState, plural: string, name: string, value: unknown, namespace?: string): Promise<void> {
  await withEtcd(lab, async (c) => {
    await c.put(resourceKey(plural, name, namespace)).value(JSON.stringify(value));
  });
}

export async function getResource<T>(lab: LabState, plural: string, name: string, namespace?: string): Promise<T | undefined> {
  return withEtcd(lab, async (c) => {
    const v = await c.get(resourceKey(plural, name, namespace)).string();
    return v ? (JSON.parse(v) as T) : undefined;
  });
}

export async function deleteResource(lab: LabState, plural: string, name: string, namespace?: string): Promise<void> {
  await withEtcd(lab, async (c) => {
    await c.delete().key(resourceKey(plural, name, namespace));
  });
}

export const DEFAULT_POOL = 'default-ipv4-ippool';

/** Rewrites the default pool's encapsulation modes (read-modify-write of the stored resource). */
export async function setPoolModes(lab: LabState, modes: { vxlanMode?: string; ipipMode?: string }): Promise<void> {
  const pool = await getResource<{ spec: Record<string, unknown> }>(lab, 'ippools', DEFAULT_POOL);
  if (!pool) throw new Error('the lab has no default pool');
  Object.assign(pool.spec, modes);
  await putResource(lab, 'ippools', DEFAULT_POOL, pool);
}

export { labDown };

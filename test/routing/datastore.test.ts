/**
 * The datastore's state as the routing side sees it: ClusterInformation.datastoreReady=false
 * means nothing is programmed (as Felix), and a datastore outage leaves the dataplane exactly as
 * it was — pods keep talking, readiness holds for the grace period — and changes made after the
 * datastore returns are picked up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { etcdStart, etcdStop, podAdd, runIn, waitFor, type LabState } from '../../src/lab/index.js';
import { getResource, ping, poolRoutes, putResource, waitAllPing, withRoutingLab } from './helpers.js';

async function readiness(lab: LabState, node: string): Promise<string> {
  const n = lab.nodes.find((x) => x.name === node)!;
  return (await runIn(n.netns, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:9099/readiness'], { allowFailure: true, timeoutMs: 5000 })).stdout.trim();
}

async function setDatastoreReady(lab: LabState, ready: boolean): Promise<void> {
  const ci = await getResource<{ spec: Record<string, unknown> }>(lab, 'clusterinformations', 'default');
  assert.ok(ci, 'the lab has a ClusterInformation');
  ci.spec.datastoreReady = ready;
  await putResource(lab, 'clusterinformations', 'default', ci);
}

test('ClusterInformation.datastoreReady=false: nothing programmed, not ready; true: programmed', async () => {
  await withRoutingLab(
    { tag: 'cr', nodes: 2, podsPerNode: 1, pool: { ipipMode: 'Never', vxlanMode: 'Never' }, beforeAgents: (lab) => setDatastoreReady(lab, false) },
    async (lab) => {
      const st = lab.state();
      const n1 = st.nodes[0]!;
      const block = lab.pods.find((p) => p.node === n1.name)!.block;
      await new Promise((r) => setTimeout(r, 8000));
      assert.ok(!(await poolRoutes(n1.netns)).some((r) => r.includes('blackhole')), 'no blackhole while the datastore is not ready');
      assert.notEqual(await readiness(st, n1.name), '200');
      await setDatastoreReady(st, true);
      await waitFor(async () => (await poolRoutes(n1.netns)).includes(`${block} blackhole - - 80`), { timeoutMs: 20_000, what: 'programming once ready' });
      await waitAllPing(lab.pods);
    },
  );
});

test('etcd down: pods keep talking, readiness holds within the grace period; changes after it returns are applied', async () => {
  await withRoutingLab({ tag: 'eo', nodes: 2, podsPerNode: 1, pool: { ipipMode: 'Never', vxlanMode: 'Never' } }, async (lab) => {
    const st = lab.state();
    await waitAllPing(lab.pods);
    for (const n of st.nodes) await waitFor(async () => (await readiness(st, n.name)) === '200', { timeoutMs: 30_000, what: `${n.name} ready` });
    const before = await poolRoutes(st.nodes[0]!.netns);
    await etcdStop(lab.name, { kill: true });
    try {
      await new Promise((r) => setTimeout(r, 15_000));
      assert.deepEqual(await poolRoutes(st.nodes[0]!.netns), before, 'the dataplane keeps its last state');
      assert.ok(await ping(lab.pods[0]!, lab.pods[1]!), 'pods still reach each other');
      assert.equal(await readiness(st, st.nodes[0]!.name), '200', 'still ready inside the 60 s grace period');
    } finally {
      await etcdStart(lab.name);
    }
    const late = await podAdd(lab.name, st.nodes[1]!.name, 'late');
    await waitAllPing([...lab.pods, late], 60_000);
  });
});

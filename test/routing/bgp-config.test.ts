/**
 * BGP configuration from the datastore, live: a changed BGPPeer resets only its own session (the
 * mesh sessions stay up, untouched), a removed BGPPeer removes the session, and `tortie status`
 * reads the agent's control socket throughout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { controlCall } from '../../src/agent/control.js';
import type { PeerStatus } from '../../src/bgp/speaker.js';
import { run, tortieArgv, waitFor } from '../../src/lab/index.js';
import { deleteResource, getResource, putResource, waitAllPing, withRoutingLab } from './helpers.js';

type Peers = { routerId: string; peers: PeerStatus[] };

test('a changed BGPPeer resets only its session; mesh sessions are not touched; removal drops the session', async () => {
  await withRoutingLab({ tag: 'bc', nodes: 3, podsPerNode: 1, birdPeer: true, pool: { ipipMode: 'Never', vxlanMode: 'Never' } }, async (lab) => {
    const st = lab.state();
    await waitAllPing(lab.pods);
    const socket = st.nodes[0]!.agent!.controlSocket;
    const birdIp = st.bird!.ip;
    const peers = async () => (await controlCall<Peers>(socket, 'bgp.peers')).peers;
    await waitFor(async () => (await peers()).every((p) => String(p.state) === 'Established'), { timeoutMs: 30_000, what: 'all sessions up' });
    const before = new Map((await peers()).map((p) => [p.address, p]));
    assert.equal(before.size, 3);

    const bgpPeer = await getResource<{ spec: Record<string, unknown> }>(st, 'bgppeers', 'lab-bird-peer');
    assert.ok(bgpPeer);
    bgpPeer.spec.keepaliveTime = '10s';
    await putResource(st, 'bgppeers', 'lab-bird-peer', bgpPeer);
    await waitFor(
      async () => {
        const b = (await peers()).find((p) => p.address === birdIp);
        return !!b && b.holdTime === 30 && String(b.state) === 'Established';
      },
      { timeoutMs: 30_000, what: 'the BIRD session re-established with the new timers' },
    );
    for (const p of await peers()) {
      if (p.address === birdIp) continue;
      const was = before.get(p.address)!;
      assert.equal(p.since, was.since, `mesh session to ${p.address} untouched`);
      assert.equal(p.flaps, was.flaps, `mesh session to ${p.address} did not flap`);
    }

    const status = await run([...tortieArgv(), 'status', '--socket', socket]);
    assert.match(status.stdout, new RegExp(`${birdIp.replace(/\./g, '\\.')}\\s+\\|\\s+global`));

    await deleteResource(st, 'bgppeers', 'lab-bird-peer');
    await waitFor(async () => !(await peers()).some((p) => p.address === birdIp), { timeoutMs: 20_000, what: 'the BIRD session removed' });
    await waitAllPing(lab.pods);
  });
});

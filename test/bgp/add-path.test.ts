/**
 * RFC 7911 add-path receive against real BIRD 1.6: BIRD holds two routes for one prefix (two
 * static protocols, one given LOCAL_PREF 200 by the export filter) and, with `add paths tx`, sends
 * both with distinct path identifiers. tortie offers add-path receive by default, keeps both paths
 * from the one peer, picks the LOCAL_PREF 200 one and says why in `tortie status routes`.
 * Control: a second BIRD with `add paths on` peered with `addPaths: off` sends only its best path.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, run } from '../../src/lab/exec.js';
import { controlCall } from '../../src/agent/control.js';
import { BgpLab, birdConf, requireRoot, speakerYaml } from './lab.js';
import { tortieCommand } from '../helpers/tortie-cmd.js';
import type { PeerStatus } from '../../src/bgp/speaker.js';

requireRoot();

const lab = new BgpLab('apath');
before(async () => lab.up(['t', 'b1', 'b2', 'b3']));
after(async () => lab.down());

interface RouteView {
  prefix: string;
  reason?: string;
  paths: { peerId: string | null; pathId: number; best: boolean; received: { localPref?: number; originatorId?: string; nextHop?: string } }[];
}

async function route(control: string, prefix: string): Promise<RouteView | undefined> {
  return (await controlCall<{ routes: RouteView[] }>(control, 'bgp.routes', { prefix })).routes[0];
}

/** BIRD with the same prefix from two static protocols; st2's copy gets LOCAL_PREF 200. */
function twoPathBird(routerId: string, prefix: string, tortie: string, addPaths: string): string {
  return `router id ${routerId};
protocol device { scan time 2; }
protocol static st1 { route ${prefix} blackhole; }
protocol static st2 { route ${prefix} blackhole; }
protocol bgp tortie {
  local as 64512;
  neighbor ${tortie} as 64512;
  import all;
  export filter { if proto = "st2" then bgp_local_pref = 200; accept; };
  add paths ${addPaths};
  connect delay time 1;
  connect retry time 2;
  error wait time 1,5;
}
`;
}

test('BIRD with add paths tx sends two paths for one prefix: tortie keeps both and shows why one wins', async () => {
  const T = lab.v4('t');
  const b1 = await lab.bird('b1', twoPathBird(lab.v4('b1'), '10.65.9.0/26', T, 'tx'));
  const b2 = await lab.bird('b2', twoPathBird(lab.v4('b2'), '10.65.8.0/26', T, 'on'));
  const sp = lab.tortie(
    't',
    speakerYaml({
      routerId: T,
      asn: 64512,
      peers: [
        // addPaths defaults to 'receive'.
        { address: lab.v4('b1'), asNumber: 64512 },
        { address: lab.v4('b2'), asNumber: 64512, addPaths: 'off' },
      ],
    }),
  );
  try {
    // BIRD has both routes in its own table (the precondition of the test).
    await waitFor(async () => ((await b1.birdc('show route 10.65.9.0/26')).match(/blackhole/g) ?? []).length === 2, { timeoutMs: 10_000, what: 'b1 has two routes for 10.65.9.0/26' });

    const v = await waitFor(
      async () => {
        const r = await route(sp.control, '10.65.9.0/26');
        return r && r.paths.length === 2 && r;
      },
      { timeoutMs: 30_000, what: `two paths for 10.65.9.0/26 from b1 (log ${sp.log})` },
    );
    assert.ok(v.paths.every((p) => p.peerId === lab.v4('b1')), 'both paths come from the one peer');
    assert.notEqual(v.paths[0]!.pathId, v.paths[1]!.pathId, 'distinct path identifiers');
    const best = v.paths.find((p) => p.best)!;
    assert.equal(best.received.localPref, 200);
    assert.equal(v.reason, 'local-pref');

    const out = (await run([...tortieCommand(), 'status', 'routes', '10.65.9.0/26', '--socket', sp.control])).stdout;
    assert.match(out, /\| \* 10\.65\.9\.0\/26 \| 198\.18\.100\.2 \| 198\.18\.100\.2 \| - +\| 200 +\| best \(local-pref\) +\|/);
    assert.match(out, /\| {3}10\.65\.9\.0\/26 \| 198\.18\.100\.2 \| 198\.18\.100\.2 \| - +\| 100 +\| lost on local-pref +\|/);

    const peers = (await controlCall<{ peers: PeerStatus[] }>(sp.control, 'bgp.peers')).peers;
    assert.deepEqual(peers.find((p) => p.address === lab.v4('b1'))!.addPathReceive, ['ipv4'], 'add-path receive negotiated with b1');
    assert.equal(peers.find((p) => p.address === lab.v4('b2'))!.addPathReceive, undefined, 'not offered to b2');

    // Control: the same BIRD setup with add-path off on our side: one path, BIRD's best.
    const c = await waitFor(async () => route(sp.control, '10.65.8.0/26'), { timeoutMs: 30_000, what: 'route from b2' });
    await new Promise((r) => setTimeout(r, 1000));
    const c2 = (await route(sp.control, '10.65.8.0/26'))!;
    assert.equal(c2.paths.length, 1, `without add-path one path only (first seen: ${JSON.stringify(c)})`);

    // Withdrawing one of b1's two paths leaves the other one, now the only path.
    await b1.birdc('disable st2');
    await waitFor(
      async () => {
        const r = await route(sp.control, '10.65.9.0/26');
        return r?.paths.length === 1 && r.paths[0]!.received.localPref === 100 && r.paths[0]!.best;
      },
      { timeoutMs: 10_000, what: 'the LOCAL_PREF 200 path withdrawn by path id, the other one kept and best' },
    );
  } finally {
    await sp.stop('SIGINT');
    await b1.stop();
    await b2.stop();
  }
});

test('BIRD route reflector with add paths tx: both clients\' paths for one prefix reach tortie, best by ORIGINATOR_ID', async () => {
  const T = lab.v4('t');
  const client = (name: string) =>
    birdConf({ routerId: lab.v4(name), asn: 64512, statics: ['10.65.7.0/26'], peers: [{ name: 'reflector', address: lab.v4('b1'), asn: 64512 }] });
  const rr = await lab.bird(
    'b1',
    birdConf({
      routerId: lab.v4('b1'),
      asn: 64512,
      peers: [
        { name: 'tortie', address: T, asn: 64512, extra: 'rr client; rr cluster id 1.1.1.1; add paths tx;' },
        { name: 'b2', address: lab.v4('b2'), asn: 64512, extra: 'rr client; rr cluster id 1.1.1.1;' },
        { name: 'b3', address: lab.v4('b3'), asn: 64512, extra: 'rr client; rr cluster id 1.1.1.1;' },
      ],
    }),
  );
  const b2 = await lab.bird('b2', client('b2'));
  const b3 = await lab.bird('b3', client('b3'));
  const sp = lab.tortie('t', speakerYaml({ routerId: T, asn: 64512, peers: [{ address: lab.v4('b1'), asNumber: 64512 }] }));
  try {
    const v = await waitFor(
      async () => {
        const r = await route(sp.control, '10.65.7.0/26');
        return r && r.paths.length === 2 && r;
      },
      { timeoutMs: 30_000, what: `both reflected paths for 10.65.7.0/26 (log ${sp.log})` },
    );
    assert.deepEqual(v.paths.map((p) => p.received.originatorId).sort(), [lab.v4('b2'), lab.v4('b3')].sort());
    assert.deepEqual(v.paths.map((p) => p.received.nextHop).sort(), [lab.v4('b2'), lab.v4('b3')].sort());
    // Equal up to the identifier step; RFC 4456 §9: ORIGINATOR_ID stands in for the router id.
    const best = v.paths.find((p) => p.best)!;
    assert.equal(best.received.originatorId, lab.v4('b2'));
    assert.equal(v.reason, 'router-id');
    const out = (await run([...tortieCommand(), 'status', 'routes', '10.65.7.0/26', '--socket', sp.control])).stdout;
    assert.match(out, /\| \* 10\.65\.7\.0\/26 \| 198\.18\.100\.3 \| 198\.18\.100\.2 \|.*\| best \(router-id\) +\|/);
    assert.match(out, /\| {3}10\.65\.7\.0\/26 \| 198\.18\.100\.4 \| 198\.18\.100\.2 \|.*\| lost on router-id +\|/);

    // One client withdraws: only its path goes, the other becomes the only path.
    await b2.birdc('disable st');
    await waitFor(
      async () => {
        const r = await route(sp.control, '10.65.7.0/26');
        return r?.paths.length === 1 && r.paths[0]!.received.originatorId === lab.v4('b3') && r.paths[0]!.best;
      },
      { timeoutMs: 10_000, what: "b2's path withdrawn, b3's kept" },
    );
  } finally {
    await sp.stop('SIGINT');
    await rr.stop();
    await b2.stop();
    await b3.stop();
  }
});

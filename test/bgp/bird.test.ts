/**
 * tortie's speaker against real BIRD 1.6 in network namespaces: sessions (iBGP/eBGP, active and
 * passive), IPv4 via bird and IPv6 via bird6, withdrawals, and each side's own view of the routes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../src/lab/exec.js';
import { controlCall } from '../../src/agent/control.js';
import { BgpLab, birdConf, requireRoot, speakerYaml } from './lab.js';
import type { PeerStatus } from '../../src/bgp/speaker.js';

requireRoot();

const lab = new BgpLab('bird');
before(async () => lab.up(['t', 'b1', 'b2']));
after(async () => lab.down());

async function peersOf(control: string): Promise<PeerStatus[]> {
  return (await controlCall<{ peers: PeerStatus[] }>(control, 'bgp.peers')).peers;
}

async function routesOf(control: string, prefix?: string): Promise<{ prefix: string; paths: { peerId: string | null; best: boolean }[] }[]> {
  return (await controlCall<{ routes: { prefix: string; paths: { peerId: string | null; best: boolean }[] }[] }>(control, 'bgp.routes', prefix ? { prefix } : undefined)).routes;
}

test('iBGP with BIRD (tortie active, BIRD passive) and eBGP with BIRD (tortie passive): IPv4 routes both ways, withdrawals propagate', async () => {
  const T = lab.v4('t');
  const b1 = await lab.bird(
    'b1',
    birdConf({ routerId: lab.v4('b1'), asn: 64512, statics: ['10.65.1.0/26'], peers: [{ name: 'tortie', address: T, asn: 64512, extra: 'passive on;' }] }),
  );
  const b2 = await lab.bird('b2', birdConf({ routerId: lab.v4('b2'), asn: 64513, statics: ['10.65.2.0/26'], peers: [{ name: 'tortie', address: T, asn: 64512 }] }));
  const sp = lab.tortie(
    't',
    speakerYaml({
      routerId: T,
      asn: 64512,
      peers: [
        { address: lab.v4('b1'), asNumber: 64512, type: 'node-to-node mesh' },
        { address: lab.v4('b2'), asNumber: 64513, passive: true },
      ],
      announce: [{ prefix: '10.65.0.0/26' }, { prefix: '10.65.0.64/26', communities: ['64512:100'] }],
    }),
  );
  try {
    await waitFor(async () => (await peersOf(sp.control)).every((p) => p.state === 'Established'), {
      timeoutMs: 30_000,
      what: `both sessions Established (tortie log: ${sp.log})`,
    });
    // BIRD's own view: it has our two prefixes, from us, with our address as next hop.
    await waitFor(async () => /10\.65\.0\.64\/26\s+via 198\.18\.100\.1/.test(await b1.birdc('show route')), { timeoutMs: 10_000, what: 'b1 has 10.65.0.64/26' });
    const all = await b1.birdc('show route all 10.65.0.64/26');
    assert.match(all, /BGP\.community: \(64512,100\)/);
    assert.match(all, /BGP\.local_pref: 100/);
    const r2 = await waitFor(async () => {
      const s = await b2.birdc('show route all 10.65.0.0/26');
      return /BGP\.as_path: 64512/.test(s) && s;
    }, { timeoutMs: 10_000, what: 'b2 (eBGP) has 10.65.0.0/26 with AS_PATH 64512' });
    assert.match(r2, /BGP\.next_hop: 198\.18\.100\.1/);
    // Our view: BIRD's statics arrive; b1's is also reflected? No: iBGP routes are not sent to
    // iBGP peers without RR, but eBGP b2 does get b1's route with our AS prepended.
    await waitFor(async () => (await routesOf(sp.control, '10.65.1.0/26'))[0]?.paths.some((p) => p.best), { timeoutMs: 10_000, what: 'tortie learned 10.65.1.0/26 from b1' });
    await waitFor(async () => (await routesOf(sp.control, '10.65.2.0/26'))[0]?.paths.some((p) => p.best), { timeoutMs: 10_000, what: 'tortie learned 10.65.2.0/26 from b2' });
    await waitFor(async () => /10\.65\.1\.0\/26/.test(await b2.birdc('show route')), { timeoutMs: 10_000, what: 'b2 learned b1\'s route through tortie (iBGP → eBGP)' });
    await waitFor(async () => /10\.65\.2\.0\/26/.test(await b1.birdc('show route')), { timeoutMs: 10_000, what: 'b1 learned b2\'s route through tortie (eBGP → iBGP)' });

    // Withdrawal from BIRD propagates to us and on to the other BIRD.
    await b1.birdc('disable st');
    await waitFor(async () => (await routesOf(sp.control, '10.65.1.0/26')).length === 0 || !(await routesOf(sp.control, '10.65.1.0/26'))[0]!.paths.length, {
      timeoutMs: 10_000,
      what: 'tortie withdrew 10.65.1.0/26',
    });
    await waitFor(async () => !/10\.65\.1\.0\/26/.test(await b2.birdc('show route')), { timeoutMs: 10_000, what: 'b2 lost 10.65.1.0/26' });

    const peers = await peersOf(sp.control);
    const p1 = peers.find((p) => p.address === lab.v4('b1'))!;
    assert.equal(p1.protoState, 'up');
    assert.equal(p1.routerId, lab.v4('b1'));
    assert.match(await b1.birdc('show protocols'), /tortie\s+BGP\s+master\s+up\s+\S+\s+Established/);
  } finally {
    await sp.stop('SIGINT');
    await b1.stop();
    await b2.stop();
  }
});

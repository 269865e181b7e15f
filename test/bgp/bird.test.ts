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

    // Route refresh (RFC 2918): `reload in` makes BIRD ask; we re-send our Adj-RIB-Out and the
    // session stays up.
    assert.match(await b1.birdc('reload in tortie'), /reload/i);
    const { readFileSync } = await import('node:fs');
    await waitFor(() => /route refresh requested: re-sending our Adj-RIB-Out/.test(readFileSync(sp.log, 'utf8')), { timeoutMs: 10_000, what: 'tortie answered the route refresh' });
    await waitFor(async () => /10\.65\.0\.64\/26/.test(await b1.birdc('show route')), { timeoutMs: 10_000, what: 'b1 still has our route after the refresh' });

    const peers = await peersOf(sp.control);
    const p1 = peers.find((p) => p.address === lab.v4('b1'))!;
    assert.equal(p1.flaps, 0);
    assert.equal(p1.protoState, 'up');
    assert.equal(p1.routerId, lab.v4('b1'));
    assert.match(await b1.birdc('show protocols'), /tortie\s+BGP\s+master\s+up\s+\S+\s+Established/);
  } finally {
    await sp.stop('SIGINT');
    await b1.stop();
    await b2.stop();
  }
});

test('tortie status prints the calicoctl table; a missing socket says the process is not running', async () => {
  const T = lab.v4('t');
  const b1 = await lab.bird('b1', birdConf({ routerId: lab.v4('b1'), asn: 64512, statics: ['10.65.1.0/26'], peers: [{ name: 'tortie', address: T, asn: 64512 }] }));
  const sp = lab.tortie('t', speakerYaml({ routerId: T, asn: 64512, peers: [{ address: lab.v4('b1'), asNumber: 64512, type: 'node-to-node mesh' }, { address: lab.v6('b2'), asNumber: 64512 }] }));
  try {
    await waitFor(async () => (await peersOf(sp.control)).some((p) => p.state === 'Established'), { timeoutMs: 30_000, what: 'session to b1' });
    const { run } = await import('../../src/lab/exec.js');
    const { tortieCommand } = await import('../helpers/tortie-cmd.js');
    const cmd = tortieCommand();
    const out = (await run([...cmd, 'status', '--socket', sp.control])).stdout;
    assert.match(out, /^Calico process is running\.\n\nIPv4 BGP status\n\+-+\+/);
    assert.match(out, /\| 198\.18\.100\.2 \| node-to-node mesh \| up {4}\| \d\d:\d\d:\d\d \| Established +\|/);
    assert.match(out, /IPv6 BGP status\n\+-+\+/);
    assert.match(out, /\| fd00:198:18::3 \| global +\| start \| \d\d:\d\d:\d\d \| (Active|Connect|Idle)/);
    const json = JSON.parse((await run([...cmd, 'status', '--json', '--socket', sp.control])).stdout) as { peers: PeerStatus[] };
    assert.ok(json.peers[0]!.prefixes);
    await waitFor(async () => (await routesOf(sp.control, '10.65.1.0/26')).length > 0, { timeoutMs: 10_000, what: 'route from b1' });
    const routes = (await run([...cmd, 'status', 'routes', '10.65.1.0/26', '--socket', sp.control])).stdout;
    assert.match(routes, /\| \* 10\.65\.1\.0\/26 \| 198\.18\.100\.2 \| 198\.18\.100\.2 \| - +\| 100 +\| best \(only-path\) +\|/);
    const missing = await run([...cmd, 'status', '--socket', `${lab.dir}/nope.sock`], { allowFailure: true });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /Calico process is not running\./);
  } finally {
    await sp.stop('SIGINT');
    await b1.stop();
  }
});

test('IPv6 with bird6 over an IPv6 session: routes both ways, withdrawal propagates', async () => {
  const T6 = lab.v6('t');
  const b = await lab.bird(
    'b1',
    birdConf({ routerId: lab.v4('b1'), asn: 64513, statics: ['fd00:65:1::/64'], peers: [{ name: 'tortie', address: T6, asn: 64512 }] }),
    true,
  );
  const sp = lab.tortie('t', speakerYaml({ routerId: lab.v4('t'), asn: 64512, peers: [{ address: lab.v6('b1'), asNumber: 64513 }], announce: [{ prefix: 'fd00:65::/64' }] }));
  try {
    await waitFor(async () => (await peersOf(sp.control))[0]?.state === 'Established', { timeoutMs: 30_000, what: `IPv6 session (log ${sp.log})` });
    const r = await waitFor(async () => {
      const s = await b.birdc('show route all fd00:65::/64');
      return /BGP\.as_path: 64512/.test(s) && s;
    }, { timeoutMs: 10_000, what: 'bird6 has fd00:65::/64 from tortie' });
    assert.match(r, new RegExp(`BGP\\.next_hop: ${T6.replaceAll(':', ':')}`));
    await waitFor(async () => (await routesOf(sp.control, 'fd00:65:1::/64'))[0]?.paths.some((p) => p.best), { timeoutMs: 10_000, what: 'tortie learned fd00:65:1::/64' });
    // Withdraw on our side by reloading the config without the prefix (SIGHUP).
    const { writeFileSync } = await import('node:fs');
    writeFileSync(sp.config, speakerYaml({ routerId: lab.v4('t'), asn: 64512, peers: [{ address: lab.v6('b1'), asNumber: 64513 }], announce: [] }).replaceAll('@CONTROL@', sp.control));
    process.kill(sp.pid, 'SIGHUP');
    await waitFor(async () => !/fd00:65::\/64/.test(await b.birdc('show route')), { timeoutMs: 10_000, what: 'bird6 lost fd00:65::/64 after reload' });
    assert.equal((await peersOf(sp.control))[0]!.flaps, 0, 'reload without peer changes keeps the session');
  } finally {
    await sp.stop('SIGINT');
    await b.stop();
  }
});

test('as a route-reflector client of BIRD tortie receives reflected routes', async () => {
  const T = lab.v4('t');
  const rr = await lab.bird(
    'b1',
    birdConf({
      routerId: lab.v4('b1'),
      asn: 64512,
      peers: [
        { name: 'tortie', address: T, asn: 64512, extra: 'rr client; rr cluster id 1.1.1.1;' },
        { name: 'b2', address: lab.v4('b2'), asn: 64512, extra: 'rr client; rr cluster id 1.1.1.1;' },
      ],
    }),
  );
  const b2 = await lab.bird('b2', birdConf({ routerId: lab.v4('b2'), asn: 64512, statics: ['10.65.2.0/26'], peers: [{ name: 'reflector', address: lab.v4('b1'), asn: 64512 }] }));
  const sp = lab.tortie('t', speakerYaml({ routerId: T, asn: 64512, peers: [{ address: lab.v4('b1'), asNumber: 64512 }], announce: [{ prefix: '10.65.0.0/26' }] }));
  try {
    const v = await waitFor(async () => (await controlCall<{ routes: { paths: { received: { originatorId?: string; clusterList?: string[]; nextHop?: string } }[] }[] }>(sp.control, 'bgp.routes', { prefix: '10.65.2.0/26' })).routes[0], {
      timeoutMs: 30_000,
      what: `reflected route 10.65.2.0/26 (log ${sp.log})`,
    });
    assert.equal(v.paths[0]!.received.originatorId, lab.v4('b2'));
    assert.deepEqual(v.paths[0]!.received.clusterList, ['1.1.1.1']);
    assert.equal(v.paths[0]!.received.nextHop, lab.v4('b2'));
    await waitFor(async () => /10\.65\.0\.0\/26/.test(await b2.birdc('show route')), { timeoutMs: 10_000, what: 'b2 got our route via the reflector' });
  } finally {
    await sp.stop('SIGINT');
    await rr.stop();
    await b2.stop();
  }
});

test('as a route reflector tortie reflects between two BIRD clients with ORIGINATOR_ID and CLUSTER_LIST', async () => {
  const T = lab.v4('t');
  const b1 = await lab.bird('b1', birdConf({ routerId: lab.v4('b1'), asn: 64512, statics: ['10.65.1.0/26'], peers: [{ name: 'reflector', address: T, asn: 64512 }] }));
  const b2 = await lab.bird('b2', birdConf({ routerId: lab.v4('b2'), asn: 64512, statics: ['10.65.2.0/26'], peers: [{ name: 'reflector', address: T, asn: 64512 }] }));
  const sp = lab.tortie(
    't',
    speakerYaml({
      routerId: T,
      asn: 64512,
      peers: [
        { address: lab.v4('b1'), asNumber: 64512, routeReflectorClient: true },
        { address: lab.v4('b2'), asNumber: 64512, routeReflectorClient: true },
      ],
      extra: { clusterId: '9.9.9.9' },
    }),
  );
  try {
    const s = await waitFor(async () => {
      const out = await b2.birdc('show route all 10.65.1.0/26');
      return /BGP\.originator_id/.test(out) && out;
    }, { timeoutMs: 30_000, what: `b2 has b1's route reflected (log ${sp.log})` });
    assert.match(s, new RegExp(`BGP\\.originator_id: ${lab.v4('b1').replaceAll('.', '\\.')}`));
    assert.match(s, /BGP\.cluster_list: 9\.9\.9\.9/);
    assert.match(s, new RegExp(`BGP\\.next_hop: ${lab.v4('b1').replaceAll('.', '\\.')}`), 'reflection keeps the next hop');
    const s1 = await waitFor(async () => {
      const out = await b1.birdc('show route all 10.65.2.0/26');
      return /BGP\.originator_id/.test(out) && out;
    }, { timeoutMs: 10_000, what: "b1 has b2's route reflected" });
    assert.match(s1, new RegExp(`BGP\\.originator_id: ${lab.v4('b2').replaceAll('.', '\\.')}`));
  } finally {
    await sp.stop('SIGINT');
    await b1.stop();
    await b2.stop();
  }
});

test('hold timer expiry when BIRD freezes: NOTIFICATION 4/0 sent, its routes withdrawn', async () => {
  const T = lab.v4('t');
  const b1 = await lab.bird('b1', birdConf({ routerId: lab.v4('b1'), asn: 64512, statics: ['10.65.1.0/26'], peers: [{ name: 'tortie', address: T, asn: 64512, extra: 'hold time 3; keepalive time 1;' }] }));
  const sp = lab.tortie('t', speakerYaml({ routerId: T, asn: 64512, peers: [{ address: lab.v4('b1'), asNumber: 64512, holdTime: 3 }] }));
  try {
    await waitFor(async () => (await routesOf(sp.control, '10.65.1.0/26'))[0]?.paths.length, { timeoutMs: 30_000, what: 'route from b1' });
    process.kill(b1.pid, 'SIGSTOP');
    const p = await waitFor(async () => {
      const x = (await peersOf(sp.control))[0]!;
      return x.state !== 'Established' && x;
    }, { timeoutMs: 10_000, what: 'session down after hold time' });
    assert.match(p.lastError, /Hold timer expired/);
    assert.equal((await routesOf(sp.control, '10.65.1.0/26')).length, 0, 'routes withdrawn');
    const metrics = await import('node:fs').then((f) => f.readFileSync(sp.log, 'utf8'));
    assert.match(metrics, /sent NOTIFICATION 4\/0/);
    process.kill(b1.pid, 'SIGCONT');
    await waitFor(async () => /Hold timer expired/.test(await b1.birdc('show protocols all tortie')), { timeoutMs: 10_000, what: 'BIRD saw our NOTIFICATION 4/0' });
  } finally {
    try {
      process.kill(b1.pid, 'SIGCONT');
    } catch {
      /* already gone */
    }
    await sp.stop('SIGINT');
    await b1.stop();
  }
});

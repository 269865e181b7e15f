/**
 * Graceful restart (RFC 4724) against BIRD 1.6, both roles:
 * - BIRD restarts (killed, started again with -R): tortie keeps its routes stale, then sweeps
 *   the ones BIRD no longer announces once BIRD's End-of-RIB arrives;
 * - tortie restarts (SIGTERM, started again): BIRD keeps tortie's routes the whole time,
 *   checked by polling `birdc show route` throughout the restart.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../src/lab/exec.js';
import { controlCall } from '../../src/agent/control.js';
import { BgpLab, birdConf, requireRoot, speakerYaml } from './lab.js';
import type { PeerStatus } from '../../src/bgp/speaker.js';

requireRoot();

const lab = new BgpLab('gr');
before(async () => lab.up(['t', 'b1']));
after(async () => lab.down());

interface RouteView {
  prefix: string;
  paths: { peerId: string | null; best: boolean; stale: boolean }[];
}
async function route(control: string, prefix: string): Promise<RouteView | undefined> {
  return (await controlCall<{ routes: RouteView[] }>(control, 'bgp.routes', { prefix })).routes[0];
}
async function peers(control: string): Promise<PeerStatus[]> {
  return (await controlCall<{ peers: PeerStatus[] }>(control, 'bgp.peers')).peers;
}

test('BIRD restarts with graceful restart: tortie keeps its routes stale, then sweeps after End-of-RIB', async () => {
  const T = lab.v4('t');
  const conf = (statics: string[]) =>
    birdConf({ routerId: lab.v4('b1'), asn: 64512, statics, peers: [{ name: 'tortie', address: T, asn: 64512, extra: 'graceful restart on; graceful restart time 60;' }] });
  let b1 = await lab.bird('b1', conf(['10.65.1.0/26', '10.65.1.64/26']));
  const sp = lab.tortie('t', speakerYaml({ routerId: T, asn: 64512, peers: [{ address: lab.v4('b1'), asNumber: 64512, gracefulRestart: { restartTime: 120 } }] }));
  let missing = 0;
  let polling = true;
  try {
    await waitFor(async () => (await route(sp.control, '10.65.1.64/26'))?.paths.length, { timeoutMs: 30_000, what: `routes from b1 (log ${sp.log})` });
    const poller = (async () => {
      while (polling) {
        const r = await route(sp.control, '10.65.1.0/26');
        if (!r?.paths.some((p) => p.best)) missing++;
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    await b1.stop('SIGKILL');
    await waitFor(async () => (await route(sp.control, '10.65.1.64/26'))?.paths[0]?.stale, { timeoutMs: 10_000, what: 'routes marked stale after BIRD died' });
    // BIRD comes back in graceful-restart recovery mode, no longer announcing 10.65.1.64/26.
    b1 = await lab.bird('b1', conf(['10.65.1.0/26']), false, ['-R']);
    await waitFor(async () => (await route(sp.control, '10.65.1.64/26')) === undefined, { timeoutMs: 60_000, what: 'stale 10.65.1.64/26 swept after End-of-RIB' });
    const kept = await route(sp.control, '10.65.1.0/26');
    assert.equal(kept?.paths[0]?.stale, false, 're-announced route is fresh again');
    polling = false;
    await poller;
    assert.equal(missing, 0, '10.65.1.0/26 never disappeared during the restart');
    const p = (await peers(sp.control))[0]!;
    assert.equal(p.state, 'Established');
  } finally {
    polling = false;
    await sp.stop('SIGINT');
    await b1.stop();
  }
});

test('tortie restarts with graceful restart: BIRD keeps our routes throughout', async () => {
  const T = lab.v4('t');
  const b1 = await lab.bird(
    'b1',
    birdConf({ routerId: lab.v4('b1'), asn: 64512, peers: [{ name: 'tortie', address: T, asn: 64512, extra: 'graceful restart on; graceful restart time 60;' }] }),
  );
  const yaml = speakerYaml({
    routerId: T,
    asn: 64512,
    peers: [{ address: lab.v4('b1'), asNumber: 64512, gracefulRestart: { restartTime: 60 } }],
    announce: [{ prefix: '10.65.0.0/26' }],
    extra: { restartStateFile: '@DIR@/tortie-restart.json' },
  });
  let sp = lab.tortie('t', yaml);
  let missing = 0;
  let samples = 0;
  let polling = true;
  try {
    await waitFor(async () => /10\.65\.0\.0\/26/.test(await b1.birdc('show route')), { timeoutMs: 30_000, what: `b1 has our route (log ${sp.log})` });
    const poller = (async () => {
      while (polling) {
        const out = await b1.birdc('show route 10.65.0.0/26').catch(() => '');
        samples++;
        if (!/10\.65\.0\.0\/26/.test(out)) missing++;
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    await sp.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 1500));
    assert.match(await b1.birdc('show protocols all tortie'), /Neighbor graceful restart active|Active|Connect|Idle/);
    sp = lab.tortie('t', yaml);
    await waitFor(async () => (await peers(sp.control).catch(() => []))[0]?.state === 'Established', { timeoutMs: 30_000, what: 'session back after restart' });
    await waitFor(async () => !/graceful restart active/i.test(await b1.birdc('show protocols all tortie')), { timeoutMs: 30_000, what: "BIRD finished its helper mode (our End-of-RIB)" });
    polling = false;
    await poller;
    assert.ok(samples > 20, `polled BIRD ${samples} times`);
    assert.equal(missing, 0, 'BIRD never lost 10.65.0.0/26 during the restart');
    const { readFileSync } = await import('node:fs');
    const log = readFileSync(sp.log, 'utf8');
    assert.match(log, /this start is a graceful restart/);
    // RFC 4724 §4.1: the restarted speaker held its advertisements until BIRD's End-of-RIB, not
    // until the selection deferral timer.
    assert.match(log, /holding our advertisements until they have sent End-of-RIB/);
    assert.match(log, /every graceful-restart peer has sent End-of-RIB; advertising our routes now/);
  } finally {
    polling = false;
    await sp.stop('SIGINT');
    await b1.stop();
  }
});

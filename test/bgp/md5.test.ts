/**
 * TCP MD5 (RFC 2385) against BIRD 1.6 `password "..."`: tortie dialing (key set by the native
 * addon before the SYN) and tortie accepting (key on the listening socket), plus a wrong key,
 * which must never establish. Needs native/tcpmd5 built (`make build`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../src/lab/exec.js';
import { controlCall } from '../../src/agent/control.js';
import { loadTcpMd5 } from '../../src/bgp/fsm/md5.js';
import { BgpLab, birdConf, requireRoot, speakerYaml } from './lab.js';
import type { PeerStatus } from '../../src/bgp/speaker.js';

requireRoot();
if (!loadTcpMd5()) throw new Error('native/tcpmd5 is not built: run make build (scripts/build-native.sh)');

const lab = new BgpLab('md5');
before(async () => lab.up(['t', 'b1', 'b2', 'b3']));
after(async () => lab.down());

test('MD5-signed sessions with BIRD in both directions; a wrong key never establishes', async () => {
  const T = lab.v4('t');
  // b1 passive (tortie dials), b2 active (tortie accepts on a dual-stack '::' listener, so the
  // key is set for the v4-mapped address), b3 has a different key.
  const b1 = await lab.bird('b1', birdConf({ routerId: lab.v4('b1'), asn: 64512, statics: ['10.65.1.0/26'], peers: [{ name: 'tortie', address: T, asn: 64512, extra: 'passive on; password "s3cret-one";' }] }));
  const b2 = await lab.bird('b2', birdConf({ routerId: lab.v4('b2'), asn: 64512, statics: ['10.65.2.0/26'], peers: [{ name: 'tortie', address: T, asn: 64512, extra: 'password "s3cret-two";' }] }));
  const b3 = await lab.bird('b3', birdConf({ routerId: lab.v4('b3'), asn: 64512, peers: [{ name: 'tortie', address: T, asn: 64512, extra: 'password "not-the-same";' }] }));
  const sp = lab.tortie(
    't',
    speakerYaml({
      routerId: T,
      asn: 64512,
      peers: [
        { address: lab.v4('b1'), asNumber: 64512, password: 's3cret-one' },
        { address: lab.v4('b2'), asNumber: 64512, password: 's3cret-two', passive: true },
        { address: lab.v4('b3'), asNumber: 64512, password: 'wrong-key' },
      ],
      announce: [{ prefix: '10.65.0.0/26' }],
    }),
  );
  try {
    const peers = async (): Promise<PeerStatus[]> => (await controlCall<{ peers: PeerStatus[] }>(sp.control, 'bgp.peers')).peers;
    await waitFor(async () => (await peers()).filter((p) => p.state === 'Established').length === 2, { timeoutMs: 30_000, what: `b1 and b2 Established with MD5 (log ${sp.log})` });
    await waitFor(async () => /10\.65\.0\.0\/26/.test(await b1.birdc('show route')), { timeoutMs: 10_000, what: 'b1 has our route' });
    await waitFor(async () => /10\.65\.0\.0\/26/.test(await b2.birdc('show route')), { timeoutMs: 10_000, what: 'b2 has our route' });
    // Give the wrong-key pair several connect attempts; it must stay down on both sides.
    await new Promise((r) => setTimeout(r, 6000));
    const p3 = (await peers()).find((p) => p.address === lab.v4('b3'))!;
    assert.notEqual(p3.state, 'Established');
    assert.doesNotMatch(await b3.birdc('show protocols'), /tortie\s+BGP\s+master\s+up/);
  } finally {
    await sp.stop('SIGINT');
    await b1.stop();
    await b2.stop();
    await b3.stop();
  }
});

test('TTL security (GTSM) with BIRD `ttl security on`, both directions: everything we send carries TTL 255', async () => {
  const T = lab.v4('t');
  // Counters in each BIRD namespace: segments from us with TTL 255, and with anything lower.
  // RSTs are left out: the kernel answers BIRD's connects with one (TTL 64) until we listen.
  const { run } = await import('../../src/lab/exec.js');
  for (const n of ['b1', 'b2', 'b3']) {
    await run(['ip', 'netns', 'exec', lab.ns(n), 'iptables', '-A', 'INPUT', '-p', 'tcp', '--tcp-flags', 'RST', 'NONE', '-s', T, '-m', 'ttl', '--ttl-eq', '255', '-j', 'ACCEPT']);
    await run(['ip', 'netns', 'exec', lab.ns(n), 'iptables', '-A', 'INPUT', '-p', 'tcp', '--tcp-flags', 'RST', 'NONE', '-s', T, '-m', 'ttl', '--ttl-lt', '255', '-j', 'ACCEPT']);
  }
  const counts = async (n: string): Promise<{ eq255: number; lower: number }> => {
    const out = (await run(['ip', 'netns', 'exec', lab.ns(n), 'iptables', '-nvxL', 'INPUT'])).stdout.split('\n');
    const pk = (re: RegExp): number => Number(out.find((l) => re.test(l))?.trim().split(/\s+/)[0] ?? -1);
    return { eq255: pk(/TTL match TTL == 255/), lower: pk(/TTL match TTL < 255/) };
  };
  const b1 = await lab.bird('b1', birdConf({ routerId: lab.v4('b1'), asn: 64512, peers: [{ name: 'tortie', address: T, asn: 64512, extra: 'passive on; ttl security on;' }] }));
  const b2 = await lab.bird('b2', birdConf({ routerId: lab.v4('b2'), asn: 64512, peers: [{ name: 'tortie', address: T, asn: 64512, extra: 'ttl security on;' }] }));
  const b3 = await lab.bird('b3', birdConf({ routerId: lab.v4('b3'), asn: 64512, peers: [{ name: 'tortie', address: T, asn: 64512, extra: 'passive on;' }] }));
  const sp = lab.tortie(
    't',
    speakerYaml({
      routerId: T,
      asn: 64512,
      listen: '0.0.0.0',
      peers: [
        { address: lab.v4('b1'), asNumber: 64512, ttlSecurity: 1 },
        { address: lab.v4('b2'), asNumber: 64512, ttlSecurity: 1, passive: true },
        // Control: no GTSM for this peer, so the counters must see ordinary TTLs here.
        { address: lab.v4('b3'), asNumber: 64512 },
      ],
    }),
    'tortie-gtsm',
  );
  try {
    const peers = async (): Promise<PeerStatus[]> => (await controlCall<{ peers: PeerStatus[] }>(sp.control, 'bgp.peers')).peers;
    await waitFor(async () => (await peers()).every((p) => p.state === 'Established'), { timeoutMs: 30_000, what: `all sessions Established (log ${sp.log})` });
    await new Promise((r) => setTimeout(r, 1000));
    for (const n of ['b1', 'b2']) {
      const c = await counts(n);
      assert.ok(c.eq255 > 0, `${n}: segments from us with TTL 255: ${c.eq255}`);
      assert.equal(c.lower, 0, `${n}: every segment from us carries TTL 255 (GTSM), ${c.lower} did not`);
    }
    const c3 = await counts('b3');
    assert.ok(c3.lower > 0 && c3.eq255 === 0, `control peer without GTSM sees ordinary TTLs: ${JSON.stringify(c3)}`);
  } finally {
    await sp.stop('SIGINT');
    await b1.stop();
    await b2.stop();
    await b3.stop();
  }
});

test('GTSM receive side: segments from a GTSM peer that arrive with TTL < 255 are dropped', async () => {
  const T = lab.v4('t');
  const sp = lab.tortie(
    't',
    speakerYaml({ routerId: T, asn: 64512, listen: '0.0.0.0', peers: [{ address: lab.v4('b1'), asNumber: 64512, ttlSecurity: 1, passive: true }] }),
    'tortie-gtsm-rx',
  );
  try {
    const peers = async (): Promise<PeerStatus[]> => (await controlCall<{ peers: PeerStatus[] }>(sp.control, 'bgp.peers')).peers;
    await waitFor(async () => (await peers().catch(() => []))[0]?.state === 'Active', { timeoutMs: 20_000, what: `speaker up (log ${sp.log})` });
    // A plain client (TTL 64) from the GTSM peer's address: it waits for our OPEN (so the
    // accepted socket already has IP_MINTTL), then sends its OPEN, which the kernel must drop.
    const script = `
      const net = require('node:net');
      const s = net.connect({ host: '${T}', port: 179, localAddress: '${lab.v4('b1')}' });
      let got = 0;
      s.on('data', (d) => {
        got += d.length;
        if (got >= 19) {
          const open = Buffer.from('ffffffffffffffffffffffffffffffff001d0104fc00005a' + 'c6126402' + '00', 'hex');
          s.write(open);
          s.write(Buffer.from('ffffffffffffffffffffffffffffffff001304', 'hex'));
          setTimeout(() => { console.log('sent'); s.destroy(); }, 3000);
        }
      });
      s.on('error', (e) => { console.log('error ' + e.message); });
    `;
    const { run } = await import('../../src/lab/exec.js');
    const out = await run(['ip', 'netns', 'exec', lab.ns('b1'), process.execPath, '-e', script], { timeoutMs: 15_000 });
    assert.match(out.stdout, /sent/, 'the client got our OPEN and sent its own');
    const { readFileSync } = await import('node:fs');
    const log = readFileSync(sp.log, 'utf8');
    assert.match(log, /Active → OpenSent \(tcp-accepted\)/, 'the TCP connection was accepted');
    assert.doesNotMatch(log, /OpenSent → OpenConfirm/, 'the low-TTL OPEN never reached the speaker');
    assert.doesNotMatch(log, /rejecting the peer's OPEN/);
    await sp.stop('SIGINT');

    // Control: the same client and OPEN against a speaker without ttlSecurity get to OpenConfirm,
    // so the drop above is GTSM's doing, not a bad OPEN.
    const plain = lab.tortie('t', speakerYaml({ routerId: T, asn: 64512, listen: '0.0.0.0', peers: [{ address: lab.v4('b1'), asNumber: 64512, passive: true }] }), 'tortie-plain-rx');
    try {
      await waitFor(async () => (await controlCall<{ peers: PeerStatus[] }>(plain.control, 'bgp.peers').catch(() => ({ peers: [] as PeerStatus[] }))).peers[0]?.state === 'Active', { timeoutMs: 20_000, what: 'plain speaker up' });
      await run(['ip', 'netns', 'exec', lab.ns('b1'), process.execPath, '-e', script], { timeoutMs: 15_000 });
      assert.match(readFileSync(plain.log, 'utf8'), /OpenSent → OpenConfirm/);
    } finally {
      await plain.stop('SIGINT');
    }
  } finally {
    await sp.stop('SIGINT');
  }
});


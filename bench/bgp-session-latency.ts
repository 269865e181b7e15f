/**
 * Does a full-table load starve the speaker's event loop? A child process (the "peer") opens a
 * BGP session over loopback to an in-process BgpSpeaker and sends N /32 prefixes as fast as TCP
 * takes them. Measured on the speaker: time until the RIB holds all N, the event-loop delay
 * (max and p99, perf_hooks), and, on the peer's side, the largest gap between the speaker's
 * KEEPALIVEs during the load (hold time 9 s, so keepalives are due every 3 s).
 *
 *   node --import tsx bench/bgp-session-latency.ts [--prefixes 1000000]
 *
 * Loopback only (127.0.0.1 ↔ 127.0.0.2); no root needed.
 */
import net from 'node:net';
import { spawn } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { BgpSpeaker } from '../src/bgp/speaker.js';
import { createLogger } from '../src/util/log.js';
import { packUpdates, type CodecOptions } from '../src/bgp/wire/index.js';

const { values } = parseArgs({ options: { prefixes: { type: 'string', default: '1000000' }, peer: { type: 'string' } }, strict: true });
const N = Number(values.prefixes);
/** Hold time the peer proposes: keepalives every 3 s, so a starved loop shows up as a gap > 3 s. */
const HOLD_S = 9;
const PEER_AS = 65001;

function prefixOf(i: number): string {
  return `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}/32`;
}

async function peer(port: number): Promise<void> {
  const opts: CodecOptions = { fourOctetAs: true, extendedMessages: false, ibgp: false };
  const sock = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const id = [127, 0, 0, 2];
  const caps = [0x02, 0x06, 0x01, 0x04, 0x00, 0x01, 0x00, 0x01, 0x02, 0x06, 0x41, 0x04, 0, 0, (PEER_AS >> 8) & 255, PEER_AS & 255];
  const body = [4, (PEER_AS >> 8) & 255, PEER_AS & 255, 0, HOLD_S, ...id, caps.length, ...caps];
  sock.write(Buffer.from([...Array(16).fill(0xff), 0, 19 + body.length, 1, ...body]));
  sock.write(Buffer.from([...Array(16).fill(0xff), 0, 19, 4]));
  const keepalives: number[] = [];
  let buf = Buffer.alloc(0);
  let opened = false;
  sock.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    while (buf.length >= 19) {
      const len = buf.readUInt16BE(16);
      if (buf.length < len) break;
      const type = buf[18];
      if (type === 4) keepalives.push(Date.now());
      if (type === 1) opened = true;
      buf = buf.subarray(len);
    }
  });
  while (!opened || keepalives.length === 0) await new Promise((r) => setTimeout(r, 10));
  const start = Date.now();
  const attrs = { origin: 0, asPath: [{ type: 2, asns: [PEER_AS] }], nextHop: '198.18.0.2' };
  const BATCH = 10_000;
  for (let i = 0; i < N; i += BATCH) {
    const prefixes = Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => prefixOf(i + k));
    for (const m of packUpdates(attrs as never, prefixes, opts, { afi: 1 })) {
      if (!sock.write(m)) await new Promise((r) => sock.once('drain', r));
    }
  }
  const sentMs = Date.now() - start;
  // Keep the session up a little longer so the keepalive record covers the whole ingest.
  await new Promise((r) => process.stdin.once('data', r));
  const during = keepalives.filter((t) => t >= start);
  let maxGap = 0;
  for (let i = 1; i < during.length; i++) maxGap = Math.max(maxGap, during[i]! - during[i - 1]!);
  process.stdout.write(JSON.stringify({ sentMs, keepalivesDuringLoad: during.length, maxKeepaliveGapMs: maxGap }) + '\n', () => process.exit(0));
  sock.destroy();
}

async function main(): Promise<void> {
  const speaker = new BgpSpeaker({ routerId: '127.0.0.1', asNumber: 65000, listen: { address: '127.0.0.1', port: 0 }, ...(process.env.BENCH_LOG ? { logger: createLogger({ level: 'debug' }) } : {}) });
  speaker.addPeer({ address: '127.0.0.2', asNumber: PEER_AS, passive: true, holdTime: HOLD_S });
  await speaker.start();
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--peer', String(speaker.listeningPort), '--prefixes', String(N)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((r) => {
    const t = setInterval(() => {
      if (speaker.peers()[0]?.state === 'Established') {
        clearInterval(t);
        r();
      }
    }, 5);
  });
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const t0 = Date.now();
  while (speaker.rib.stats().paths < N) await new Promise((r) => setTimeout(r, 20));
  const ingestMs = Date.now() - t0;
  h.disable();
  // Let at least one more keepalive interval pass, then collect the peer's record.
  await new Promise((r) => setTimeout(r, (HOLD_S / 3) * 1000 + 200));
  const sessionStillUp = speaker.peers()[0]?.state === 'Established';
  child.stdin.write('done\n');
  await new Promise((r) => child.once('exit', r));
  const peerStats = JSON.parse(out.trim()) as Record<string, number>;
  const result = {
    prefixes: N,
    ingestMs,
    eventLoopDelayMaxMs: Math.round(h.max / 1e6),
    eventLoopDelayP99Ms: Math.round(h.percentile(99) / 1e6),
    sessionStillUp,
    ...peerStats,
  };
  console.log(JSON.stringify(result));
  await speaker.stop();
  process.exit(0);
}

if (values.peer) await peer(Number(values.peer));
else await main();

/**
 * In-process RIB benchmark: N IPv4 /30 prefixes from one iBGP peer through `Rib.applyUpdate` in
 * UPDATEs of 800 NLRI (about what fits one 4096-byte UPDATE with /30s: 5 bytes each), then the
 * best-path drain the kernel reconciler would do, then a withdraw-all via peer down. Isolates the
 * RIB's cost from TCP and decoding; `bench/bgp-ingest.ts` measures the whole pipeline.
 *
 * The UPDATEs are what the speaker hands the RIB: packed to wire bytes and decoded by the real
 * decoder (so prefix text is the decoder's concatenated strings, with `nlriKeys` beside them).
 * The decode is timed apart (decodeCpuMs) and is not in ingestMs. With --hand-built they are
 * built as objects instead, text only, as a test would: the RIB then parses every prefix text.
 *
 *   node --expose-gc --import tsx bench/rib-ingest.ts --prefixes 1000000 [--peers 1] [--ebgp-peers 0] [--hand-built]
 *
 * With --peers > 1 every peer sends the same table (a route reflector's worst case: N paths per
 * prefix); with --ebgp-peers, that many eBGP peers are up to receive the exports.
 */
import { parseArgs } from 'node:util';
import { Rib } from '../src/bgp/rib/index.js';
import { MessageType, Origin, type CodecOptions, type PathAttributes, type UpdateMessage } from '../src/bgp/wire/types.js';
import { decode } from '../src/bgp/wire/decode.js';
import { packUpdates } from '../src/bgp/wire/pack.js';

/** NLRI per UPDATE: a 4096-byte UPDATE holds ~800 /30 prefixes after ~60 bytes of attributes. */
const NLRI_PER_UPDATE = 800;

const { values } = parseArgs({
  options: {
    prefixes: { type: 'string', default: '1000000' },
    peers: { type: 'string', default: '1' },
    'ebgp-peers': { type: 'string', default: '0' },
    'hand-built': { type: 'boolean', default: false },
  },
});
const N = Number(values.prefixes);
const PEERS = Number(values.peers);
const EBGP = Number(values['ebgp-peers']);
const HAND_BUILT = values['hand-built']!;
/** The receiving session: 4-octet AS, iBGP, with the per-session attribute cache the speaker uses. */
const CODEC: CodecOptions = { fourOctetAs: true, extendedMessages: false, ibgp: true };

/** The i-th /30 in 10.0.0.0/8 (then 11/8, ...), as the decoder would produce it. */
export function slash30(i: number): string {
  const n = (10 << 24) + i * 4;
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/30`;
}

function attrsOf(peerIndex: number): PathAttributes {
  return { origin: Origin.Igp, asPath: [], nextHop: `198.18.0.${peerIndex + 2}`, localPref: 100 };
}

function handBuilt(peerIndex: number): UpdateMessage[] {
  const out: UpdateMessage[] = [];
  for (let i = 0; i < N; i += NLRI_PER_UPDATE) {
    const nlri = [];
    for (let j = i; j < Math.min(N, i + NLRI_PER_UPDATE); j++) nlri.push({ prefix: slash30(j) });
    out.push({ type: MessageType.Update, withdrawn: [], nlri, attrs: attrsOf(peerIndex) });
  }
  return out;
}

/** The wire bytes of one peer's table, in UPDATEs of NLRI_PER_UPDATE prefixes as BIRD sends them. */
function wireUpdates(peerIndex: number): Uint8Array[] {
  const prefixes = Array.from({ length: N }, (_, i) => slash30(i));
  const out: Uint8Array[] = [];
  for (let i = 0; i < N; i += NLRI_PER_UPDATE) out.push(...packUpdates(attrsOf(peerIndex), prefixes.slice(i, i + NLRI_PER_UPDATE), CODEC, { afi: 1 }));
  return out;
}

function mb(n: number): string {
  return (n / 1048576).toFixed(0);
}

const rib = new Rib({ localAs: 64512, routerId: '198.18.0.1' });
for (let p = 0; p < PEERS; p++) {
  rib.addPeer(`p${p}`, { address: `198.18.0.${p + 2}`, asn: 64512 });
  rib.peerUp(`p${p}`, { routerId: `198.18.0.${p + 2}`, localAddress: '198.18.0.1', families: new Set(['1/1']) });
}
for (let e = 0; e < EBGP; e++) {
  rib.addPeer(`e${e}`, { address: `198.18.1.${e + 2}`, asn: 65000 + e });
  rib.peerUp(`e${e}`, { routerId: `198.18.1.${e + 2}`, localAddress: '198.18.1.1', families: new Set(['1/1']) });
}
// Decode (or build) the messages first so only the RIB is timed; the decode is reported apart.
let decodeCpuMs = 0;
const batches = Array.from({ length: PEERS }, (_, p) => {
  if (HAND_BUILT) return handBuilt(p);
  const bytes = wireUpdates(p);
  global.gc?.();
  const opts: CodecOptions = { ...CODEC, attrCache: new Map() };
  const d0 = process.cpuUsage();
  const msgs = bytes.map((b) => decode(b, opts) as UpdateMessage);
  const d1 = process.cpuUsage(d0);
  decodeCpuMs += (d1.user + d1.system) / 1000;
  return msgs;
});
global.gc?.();
const base = process.memoryUsage();
const c0 = process.cpuUsage();
const t0 = performance.now();
for (let p = 0; p < PEERS; p++) for (const u of batches[p]!) rib.applyUpdate(`p${p}`, u);
const t1 = performance.now();
const c1 = process.cpuUsage(c0);
const changes = rib.drainBestChanges().length;
const t2 = performance.now();
let exported = 0;
for (let e = 0; e < EBGP; e++) {
  let d;
  do {
    d = rib.drainAdjRibOut(`e${e}`, 100_000);
    for (const g of d.announce) exported += g.prefixes.length;
  } while (d.more);
}
const t3 = performance.now();
batches.length = 0;
global.gc?.();
const held = process.memoryUsage();
const s = rib.stats();
for (let p = 0; p < PEERS; p++) rib.peerDown(`p${p}`);
const t4 = performance.now();
console.log(
  JSON.stringify({
    prefixes: N,
    peers: PEERS,
    ebgpPeers: EBGP,
    input: HAND_BUILT ? 'hand-built' : 'decoded',
    decodeCpuMs: Math.round(decodeCpuMs),
    ingestMs: Math.round(t1 - t0),
    ingestCpuMs: Math.round((c1.user + c1.system) / 1000),
    prefixesPerSec: Math.round((N * PEERS) / ((t1 - t0) / 1000)),
    bestDrainMs: Math.round(t2 - t1),
    bestChanges: changes,
    exportDrainMs: Math.round(t3 - t2),
    exported,
    withdrawAllMs: Math.round(t4 - t3),
    heapUsedMB: mb(held.heapUsed),
    heapGrowthMB: mb(held.heapUsed - base.heapUsed),
    rssMB: mb(held.rss),
    attrSets: s.attrSets,
    paths: s.paths,
  }),
);

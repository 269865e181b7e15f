/**
 * Micro-benchmark of the BGP wire codec: how fast a full table packs into UPDATEs and how fast the
 * framer + decoder turn those bytes back into prefixes. The target comes from the speaker's budget:
 * 1,000,000 IPv4 /30s (BIRD packs ~800 per UPDATE) must be ingested end to end within ~2.8 s, so
 * decoding alone should take well under 1 s.
 *
 *   node dist/bench/bgp-wire.js [--prefixes N] [--rounds N]
 *   node --import tsx bench/bgp-wire.ts --prefixes 1000000 --rounds 3
 */
import { performance } from 'node:perf_hooks';
import {
  AsPathSegmentType,
  Framer,
  decode,
  packUpdates,
  packWithdrawals,
  type CodecOptions,
  type PathAttributes,
  type UpdateMessage,
} from '../src/bgp/wire/index.js';

/** TCP delivers the stream in chunks of about this size (Node's default socket read size). */
const CHUNK = 65536;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return dflt;
  const n = Number(process.argv[i + 1]);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number`);
  return n;
}

function concat(msgs: Uint8Array[]): Uint8Array {
  const total = msgs.reduce((n, m) => n + m.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const m of msgs) {
    out.set(m, o);
    o += m.length;
  }
  return out;
}

function ingest(stream: Uint8Array, opts: CodecOptions): { prefixes: number; updates: number } {
  const framer = new Framer();
  let prefixes = 0;
  let updates = 0;
  for (let o = 0; o < stream.length; o += CHUNK) {
    for (const m of framer.push(stream.subarray(o, o + CHUNK))) {
      const u = decode(m, opts) as UpdateMessage;
      prefixes += u.nlri.length + u.withdrawn.length + (u.mpReach?.nlri.length ?? 0) + (u.mpUnreach?.withdrawn.length ?? 0);
      updates++;
    }
  }
  return { prefixes, updates };
}

function time<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const r = f();
  return [r, (performance.now() - t0) / 1000];
}

const rate = (n: number, s: number) => `${(n / s / 1e6).toFixed(2)} M prefixes/s`;

function main(): void {
  const n = arg('--prefixes', 1_000_000);
  const rounds = arg('--rounds', 3);
  const opts: CodecOptions = { fourOctetAs: true, extendedMessages: false, ibgp: false };
  const attrs: PathAttributes = {
    origin: 0,
    asPath: [{ type: AsPathSegmentType.AsSequence, asns: [65001, 65002] }],
    nextHop: '198.18.0.2',
    med: 0,
    communities: [0xfde90064],
  };
  const v4 = Array.from({ length: n }, (_, i) => `10.${(i >> 14) & 255}.${(i >> 6) & 255}.${(i & 63) << 2}/30`);
  const v6Count = Math.max(1, Math.floor(n / 5));
  const v6 = Array.from({ length: v6Count }, (_, i) => `fd00:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::/64`);
  console.log(`bgp-wire bench: node ${process.version}, ${n} IPv4 /30, ${v6Count} IPv6 /64, best of ${rounds}`);

  const best = (label: string, count: number, f: () => unknown) => {
    let bestS = Infinity;
    for (let r = 0; r < rounds; r++) bestS = Math.min(bestS, time(f)[1]);
    console.log(`  ${label.padEnd(44)} ${bestS.toFixed(3)} s  ${rate(count, bestS)}`);
    return bestS;
  };

  let msgs: Uint8Array[] = [];
  best('encode IPv4 announcements (packUpdates)', n, () => (msgs = packUpdates(attrs, v4, opts, { afi: 1 })));
  const stream = concat(msgs);
  console.log(`    ${msgs.length} UPDATEs, ${(n / msgs.length).toFixed(0)} prefixes each, ${(stream.length / 1e6).toFixed(1)} MB`);
  best('decode IPv4 (framer + decode, attrCache)', n, () => {
    const r = ingest(stream, { ...opts, attrCache: new Map() });
    if (r.prefixes !== n) throw new Error(`decoded ${r.prefixes} prefixes, expected ${n}`);
  });
  best('decode IPv4 (framer + decode, no cache)', n, () => ingest(stream, opts));
  // Prefix strings are built by concatenation; the first Map lookup flattens them. This line shows
  // decode plus that cost, which a table keyed by the text pays.
  best('decode IPv4 + Map.set of every prefix', n, () => {
    const table = new Map<string, unknown>();
    const framer = new Framer();
    const o2 = { ...opts, attrCache: new Map() };
    for (let o = 0; o < stream.length; o += CHUNK) {
      for (const m of framer.push(stream.subarray(o, o + CHUNK))) {
        const u = decode(m, o2) as UpdateMessage;
        for (const p of u.nlri) table.set(p.prefix, u.attrs);
      }
    }
    if (table.size !== n) throw new Error(`table has ${table.size} prefixes`);
  });
  // What the RIB does instead for IPv4: key its table by the decoder's numbers (nlriKeys).
  best('decode IPv4 + Map.set of every nlriKeys key', n, () => {
    const table = new Map<number, unknown>();
    const framer = new Framer();
    const o2 = { ...opts, attrCache: new Map() };
    for (let o = 0; o < stream.length; o += CHUNK) {
      for (const m of framer.push(stream.subarray(o, o + CHUNK))) {
        const u = decode(m, o2) as UpdateMessage;
        const keys = u.nlriKeys!;
        for (let i = 0; i < keys.length; i++) table.set(keys[i]!, u.attrs);
      }
    }
    if (table.size !== n) throw new Error(`table has ${table.size} prefixes`);
  });
  let wd: Uint8Array[] = [];
  best('encode IPv4 withdrawals (packWithdrawals)', n, () => (wd = packWithdrawals(v4, opts, { afi: 1 })));
  const wstream = concat(wd);
  best('decode IPv4 withdrawals', n, () => ingest(wstream, opts));
  let m6: Uint8Array[] = [];
  best('encode IPv6 announcements (MP_REACH)', v6Count, () => (m6 = packUpdates(attrs, v6, opts, { afi: 2, nextHops: ['fd00::2'] })));
  const s6 = concat(m6);
  best('decode IPv6 (framer + decode, attrCache)', v6Count, () => ingest(s6, { ...opts, attrCache: new Map() }));
}

main();

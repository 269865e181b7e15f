/**
 * The malformed-corpus replayer, run inside a test namespace (`ip netns exec ... node --import
 * tsx test/bgp/corpus-peer.ts <speaker> <ebgpSrc> <ibgpSrc> <controlSocket>`). For each case of
 * test/bgp/malformed-corpus.ts it opens a real TCP session to the running speaker, sends the
 * case's bytes at the stage the case names, and prints one JSON line with what it observed: the
 * NOTIFICATION the speaker sent (if any), whether the session was still up afterwards, and how
 * many of the case's prefixes the speaker held from us before and after.
 */
import net from 'node:net';
import { MALFORMED_CORPUS, CORPUS_IBGP_AS, CORPUS_PEER_AS, CORPUS_PEER_ID, type CorpusCase } from './malformed-corpus.js';
import { decode, packUpdates, MessageType, type UpdateMessage } from '../../src/bgp/wire/index.js';
import { controlCall } from '../../src/agent/control.js';

const [speaker, ebgpSrc, ibgpSrc, control] = process.argv.slice(2) as [string, string, string, string];

/** How long "the session stays up" is watched after the case's bytes. */
const QUIET_MS = 400;
const REPLY_TIMEOUT_MS = 4000;

function hexOf(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function openBytes(asn: number, fourOctet: boolean): Buffer {
  const caps: number[] = [0x01, 0x04, 0x00, 0x01, 0x00, 0x01]; // MP IPv4 unicast
  if (fourOctet) caps.push(0x41, 0x04, (asn >>> 24) & 255, (asn >>> 16) & 255, (asn >>> 8) & 255, asn & 255);
  const opt = [0x02, caps.length, ...caps];
  const id = CORPUS_PEER_ID.split('.').map(Number);
  const body = [4, (asn >> 8) & 255, asn & 255, 0, 90, ...id, opt.length, ...opt];
  const len = 19 + body.length;
  return Buffer.from([...Array(16).fill(0xff), len >> 8, len & 255, 1, ...body]);
}
const KEEPALIVE = Buffer.from([...Array(16).fill(0xff), 0, 19, 4]);

interface Observation {
  id: number;
  name: string;
  notification?: { code: number; subcode: number; data: string };
  upAfter: boolean;
  before?: number;
  after?: number;
  error?: string;
}

/** Reads BGP messages from the socket as {type, body} and resolves waiters. */
class Reader {
  private buf = Buffer.alloc(0);
  readonly msgs: { type: number; body: Buffer }[] = [];
  closed = false;
  private waiters: (() => void)[] = [];
  constructor(sock: net.Socket) {
    sock.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      while (this.buf.length >= 19) {
        const len = this.buf.readUInt16BE(16);
        if (len < 19 || this.buf.length < len) break;
        this.msgs.push({ type: this.buf[18]!, body: this.buf.subarray(19, len) });
        this.buf = this.buf.subarray(len);
      }
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => undefined);
  }
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  async until(pred: () => boolean, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (!pred()) {
      const left = end - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return true;
  }
  notification(): Observation['notification'] {
    const n = this.msgs.find((m) => m.type === 3);
    return n ? { code: n.body[0]!, subcode: n.body[1]!, data: hexOf(n.body.subarray(2)) } : undefined;
  }
}

function connect(src: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: speaker, port: 179, localAddress: src });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

async function countFromUs(prefixes: string[], src: string): Promise<number> {
  let n = 0;
  for (const prefix of prefixes) {
    const r = await controlCall<{ routes: { paths: { peerId: string | null }[] }[] }>(control, 'bgp.routes', { prefix });
    n += r.routes[0]?.paths.filter((p) => p.peerId === src).length ?? 0;
  }
  return n;
}

async function runCase(c: CorpusCase): Promise<Observation> {
  const src = c.opts.ibgp ? ibgpSrc : ebgpSrc;
  const asn = c.opts.ibgp ? CORPUS_IBGP_AS : CORPUS_PEER_AS;
  const sock = await connect(src);
  const rd = new Reader(sock);
  const obs: Observation = { id: c.id, name: c.name, upAfter: false };
  try {
    if (c.stage === 'open') {
      sock.write(c.bytes);
    } else {
      sock.write(openBytes(asn, c.opts.fourOctetAs));
      sock.write(KEEPALIVE);
      const up = await rd.until(() => rd.msgs.some((m) => m.type === 4) || rd.closed, REPLY_TIMEOUT_MS);
      if (!up || rd.closed) throw new Error(`session did not come up: ${JSON.stringify(rd.notification())}`);
      // For cases that keep the session, first announce the same prefixes validly, so we can see
      // that exactly those are withdrawn (treat-as-withdraw) or kept (attribute discard).
      let prefixes: string[] = [];
      if (c.expect.kind !== 'reset') {
        const u = decode(c.bytes, { ...c.opts, addPathReceive: new Set() }) as UpdateMessage;
        if (u.type === MessageType.Update) prefixes = u.nlri.map((n) => n.prefix);
        if (prefixes.length > 0) {
          const attrs = { origin: 0, asPath: c.opts.ibgp ? [] : [{ type: 2, asns: [asn] }], nextHop: src, ...(c.opts.ibgp ? { localPref: 100 } : {}) };
          for (const b of packUpdates(attrs as never, prefixes, c.opts, { afi: 1 })) sock.write(b);
          await new Promise((r) => setTimeout(r, 150));
          obs.before = await countFromUs(prefixes, src);
        }
      }
      sock.write(c.bytes);
      if (prefixes.length > 0) {
        await new Promise((r) => setTimeout(r, 150));
        obs.after = await countFromUs(prefixes, src);
      }
    }
    if (c.expect.kind === 'reset') {
      await rd.until(() => rd.notification() !== undefined || rd.closed, REPLY_TIMEOUT_MS);
    } else {
      // Still up: no NOTIFICATION within the quiet period, and a KEEPALIVE still goes through.
      await rd.until(() => rd.notification() !== undefined || rd.closed, QUIET_MS);
      sock.write(KEEPALIVE);
      await rd.until(() => rd.closed, 100);
      obs.upAfter = !rd.closed && rd.notification() === undefined;
    }
    const n = rd.notification();
    if (n) obs.notification = n;
  } catch (e) {
    obs.error = e instanceof Error ? e.message : String(e);
  } finally {
    sock.destroy();
    // Let the speaker see the close before the next case connects from the same address.
    await new Promise((r) => setTimeout(r, 100));
  }
  return obs;
}

for (const c of MALFORMED_CORPUS) {
  process.stdout.write(JSON.stringify(await runCase(c)) + '\n');
}

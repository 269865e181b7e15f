/**
 * The speaker's End-of-RIB signal, two BgpSpeakers over loopback (no root): 'end-of-rib' fires
 * once per family a peer finished, after every best-path change of that peer's table was
 * emitted, and allPeersEndOfRib() waits only for graceful-restart peers (the ones that owe it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BgpSpeaker } from './speaker.js';

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

type Event = { kind: 'best'; prefixes: string[] } | { kind: 'eor'; peer: string; afi: number; safi: number };

/** A (listening, GR optional) learns B's routes; the events A emits, in order. */
async function pair(gr: boolean) {
  const a = new BgpSpeaker({ routerId: '127.0.0.1', asNumber: 65001, listen: { address: '127.0.0.1', port: 0 } });
  const b = new BgpSpeaker({ routerId: '127.0.0.2', asNumber: 65002 });
  await a.start();
  await b.start();
  const events: Event[] = [];
  a.on('best-path-changes', (c) => events.push({ kind: 'best', prefixes: c.map((x) => x.prefix) }));
  a.on('end-of-rib', (e) => events.push({ kind: 'eor', ...e }));
  const grOpt = gr ? { gracefulRestart: { restartTime: 60 } } : {};
  // 127/8 is not a valid NEXT_HOP on the wire (RFC 7606 §7.3): B keeps a real one.
  for (let i = 0; i < 20; i++) b.announce(`10.66.${i}.0/26`, { nextHop: '198.18.0.2' });
  a.addPeer({ address: '127.0.0.2', asNumber: 65002, passive: true, ...grOpt });
  assert.equal(a.allPeersEndOfRib(), false, 'a configured peer that is not up is not done');
  b.addPeer({ address: '127.0.0.1', asNumber: 65001, port: a.listeningPort!, localAddress: '127.0.0.2', keepOriginalNextHop: true, ...grOpt });
  return { a, b, events };
}

test("'end-of-rib' follows the peer's table; allPeersEndOfRib waits for a graceful-restart peer's marker", async () => {
  const { a, b, events } = await pair(true);
  try {
    await until('End-of-RIB from B', () => events.some((e) => e.kind === 'eor'));
    const eor = events.findIndex((e) => e.kind === 'eor');
    assert.deepEqual(events[eor], { kind: 'eor', peer: '127.0.0.2', afi: 1, safi: 1 });
    const before = new Set(events.slice(0, eor).flatMap((e) => (e.kind === 'best' ? e.prefixes : [])));
    assert.equal(before.size, 20, "every route of B's table reached a best-path event before End-of-RIB");
    assert.equal(a.allPeersEndOfRib(), true);
    const st = a.peers()[0]!;
    assert.deepEqual(st.endOfRib, { expected: true, received: ['ipv4'] });
  } finally {
    await b.stop();
    await a.stop();
  }
});

test('allPeersEndOfRib: a peer without graceful restart owes no End-of-RIB; a down peer is not done', async () => {
  const { a, b, events } = await pair(false);
  try {
    await until('Established', () => a.peers()[0]?.state === 'Established');
    assert.equal(a.peers()[0]!.endOfRib?.expected, false);
    assert.equal(a.allPeersEndOfRib(), true);
    // Our speaker sends End-of-RIB to every peer; the event fires whether or not it was owed.
    await until('End-of-RIB from B', () => events.some((e) => e.kind === 'eor'));
    a.addPeer({ address: '127.0.0.3', asNumber: 65003, passive: true, gracefulRestart: { restartTime: 60 } });
    assert.equal(a.allPeersEndOfRib(), false);
    assert.equal(a.allPeersEndOfRib(2, 1), false, 'any family: a peer that is not up is not done');
  } finally {
    await b.stop();
    await a.stop();
  }
});

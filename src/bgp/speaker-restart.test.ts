/**
 * The restarting speaker's export hold (RFC 4724 §4.1), two or three BgpSpeakers over loopback
 * (no root): the restarting one (fake clock for its selection deferral timer) advertises nothing
 * until every graceful-restart peer sent End-of-RIB, or until the timer expires when one of them
 * never comes back; then it sends its routes and End-of-RIB.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BgpSpeaker, type BestChange } from './speaker.js';
import { FakeClock } from '../util/clock.js';

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A restarting speaker (passive towards B, so its fake clock drives no connect timer) and B. */
async function pair(extraPeersOfA: { address: string }[]) {
  const clock = new FakeClock(Date.now());
  const a = new BgpSpeaker({ routerId: '127.0.0.1', asNumber: 65001, listen: { address: '127.0.0.1', port: 0 }, restarting: true, selectionDeferralTime: 30, clock });
  const b = new BgpSpeaker({ routerId: '127.0.0.2', asNumber: 65002 });
  await a.start();
  await b.start();
  const atB: BestChange[] = [];
  b.on('best-path-changes', (c) => atB.push(...c));
  // 127/8 is not a valid NEXT_HOP on the wire (RFC 7606 §7.3): keep a real one.
  a.addPeer({ address: '127.0.0.2', asNumber: 65002, passive: true, keepOriginalNextHop: true, gracefulRestart: { restartTime: 60 } });
  for (const p of extraPeersOfA) a.addPeer({ address: p.address, asNumber: 65003, passive: true, gracefulRestart: { restartTime: 60 } });
  a.announce('10.65.0.0/26', { nextHop: '198.18.0.1' });
  b.addPeer({ address: '127.0.0.1', asNumber: 65001, port: a.listeningPort!, localAddress: '127.0.0.2', gracefulRestart: { restartTime: 60 } });
  return { a, b, atB, clock };
}

test('restarting speaker: exports held until the GR peer sent End-of-RIB, then routes and End-of-RIB go out', async () => {
  const { a, b, atB } = await pair([]);
  try {
    assert.equal(a.exportsHeld, true, 'held from start()');
    await until('session up and B learns our route', () => atB.some((c) => c.prefix === '10.65.0.0/26' && c.best));
    // B is a GR peer that sent End-of-RIB after its (empty) initial advertisement: nothing left
    // to wait for, so the hold ended without the deferral timer (the fake clock never moved).
    assert.equal(a.exportsHeld, false);
    assert.equal(b.routes('10.65.0.0/26')[0]!.paths[0]!.attrs?.nextHop, '198.18.0.1');
  } finally {
    await b.stop();
    await a.stop();
  }
});

test('restarting speaker: a GR peer that never comes back holds exports until the selection deferral timer', async () => {
  // 127.0.0.3 is configured with graceful restart but never connects.
  const { a, b, atB, clock } = await pair([{ address: '127.0.0.3' }]);
  try {
    await until('A ↔ B Established', () => a.peers().find((p) => p.address === '127.0.0.2')?.state === 'Established' && b.peers()[0]?.state === 'Established');
    // B's End-of-RIB has arrived well within this; the peer that is not up keeps the hold.
    await sleep(500);
    assert.equal(a.exportsHeld, true);
    assert.equal(atB.length, 0, 'B received no route while A defers');
    assert.equal(b.routes('10.65.0.0/26').length, 0);
    clock.advance(29_000);
    await sleep(100);
    assert.equal(a.exportsHeld, true, 'still held before the 30 s bound');
    clock.advance(1_000);
    assert.equal(a.exportsHeld, false, 'released when the timer expires');
    await until('B learns our route after the release', () => atB.some((c) => c.prefix === '10.65.0.0/26' && c.best));
  } finally {
    await b.stop();
    await a.stop();
  }
});

test('restarting speaker: removing the peer that is waited for ends the hold', async () => {
  const { a, b, atB } = await pair([{ address: '127.0.0.3' }]);
  try {
    await until('A ↔ B Established', () => a.peers().find((p) => p.address === '127.0.0.2')?.state === 'Established');
    await sleep(300);
    assert.equal(a.exportsHeld, true);
    a.removePeer('127.0.0.3');
    assert.equal(a.exportsHeld, false);
    await until('B learns our route', () => atB.some((c) => c.prefix === '10.65.0.0/26' && c.best));
  } finally {
    await b.stop();
    await a.stop();
  }
});

test('both sides restarting at once: neither waits for the other (R bit peers excluded), no deadlock', async () => {
  const clock = new FakeClock(Date.now());
  const a = new BgpSpeaker({ routerId: '127.0.0.1', asNumber: 65001, listen: { address: '127.0.0.1', port: 0 }, restarting: true, clock });
  const b = new BgpSpeaker({ routerId: '127.0.0.2', asNumber: 65002, restarting: true });
  await a.start();
  await b.start();
  const atA: BestChange[] = [];
  const atB: BestChange[] = [];
  a.on('best-path-changes', (c) => atA.push(...c));
  b.on('best-path-changes', (c) => atB.push(...c));
  try {
    a.addPeer({ address: '127.0.0.2', asNumber: 65002, passive: true, keepOriginalNextHop: true, gracefulRestart: { restartTime: 60 } });
    b.addPeer({ address: '127.0.0.1', asNumber: 65001, port: a.listeningPort!, localAddress: '127.0.0.2', keepOriginalNextHop: true, gracefulRestart: { restartTime: 60 } });
    a.announce('10.65.0.0/26', { nextHop: '198.18.0.1' });
    b.announce('10.65.1.0/26', { nextHop: '198.18.0.2' });
    await until('each learns the other\'s route without any timer', () => atA.some((c) => c.prefix === '10.65.1.0/26' && c.best) && atB.some((c) => c.prefix === '10.65.0.0/26' && c.best));
    assert.equal(a.exportsHeld, false);
    assert.equal(b.exportsHeld, false);
  } finally {
    await b.stop();
    await a.stop();
  }
});

test('a speaker that is not restarting never holds its exports', async () => {
  const a = new BgpSpeaker({ routerId: '127.0.0.1', asNumber: 65001, restarting: false });
  await a.start();
  try {
    assert.equal(a.exportsHeld, false);
  } finally {
    await a.stop();
  }
});

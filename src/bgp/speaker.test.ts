/**
 * Two BgpSpeakers in one process over loopback (127.0.0.1 ↔ 127.0.0.2, no root): the library API
 * end to end — announce/withdraw reach the other side's best-path events, updatePeer resets a
 * session only when a session-relevant field changed, removePeer tells the peer (Cease/3).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BgpSpeaker, type BestChange } from './speaker.js';

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('two speakers over loopback: routes, updatePeer without and with reset, removePeer', async () => {
  const a = new BgpSpeaker({ routerId: '127.0.0.1', asNumber: 65001, listen: { address: '127.0.0.1', port: 0 } });
  const b = new BgpSpeaker({ routerId: '127.0.0.2', asNumber: 65002, listen: { address: '127.0.0.2', port: 0 } });
  await a.start();
  await b.start();
  const changesAtB: BestChange[] = [];
  b.on('best-path-changes', (c) => changesAtB.push(...c));
  try {
    // a dials b (b's port), b only accepts.
    // 127/8 is not a valid NEXT_HOP on the wire (RFC 7606 §7.3): announce with a real one and
    // keep it, instead of the loopback session address.
    const aPeer = { address: '127.0.0.2', asNumber: 65002, port: b.listeningPort!, localAddress: '127.0.0.1', keepOriginalNextHop: true };
    a.addPeer(aPeer);
    b.addPeer({ address: '127.0.0.1', asNumber: 65001, passive: true });
    await until('Established', () => a.peers()[0]?.state === 'Established' && b.peers()[0]?.state === 'Established');

    a.announce('10.65.0.0/26', { nextHop: '198.18.0.1', communities: ['65001:7'] });
    await until('b learns 10.65.0.0/26', () => changesAtB.some((c) => c.prefix === '10.65.0.0/26' && c.best));
    const best = changesAtB.find((c) => c.prefix === '10.65.0.0/26')!.best!;
    assert.equal(best.nextHop, '198.18.0.1');
    assert.deepEqual(best.attrs.communities, [65001 * 65536 + 7]);
    assert.deepEqual(best.attrs.asPath, [{ type: 2, asns: [65001] }]);
    assert.equal(b.routes('10.65.0.0/26')[0]!.paths[0]!.peerId, '127.0.0.1');

    // RIB-only change: no session reset.
    a.updatePeer({ ...aPeer, routeReflectorClient: true });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(a.peers()[0]!.flaps, 0);
    assert.equal(a.peers()[0]!.state, 'Established');

    // Session change (hold time): reset with Cease/6 and come back.
    a.updatePeer({ ...aPeer, holdTime: 30 });
    await until('re-established after reset', () => a.peers()[0]!.flaps === 1 && a.peers()[0]!.state === 'Established' && b.peers()[0]!.state === 'Established', 20_000);
    assert.equal(a.peers()[0]!.holdTime, 30);

    changesAtB.length = 0;
    assert.equal(a.withdraw('10.65.0.0/26'), true);
    await until('b loses 10.65.0.0/26', () => changesAtB.some((c) => c.prefix === '10.65.0.0/26' && !c.best));

    a.removePeer('127.0.0.2');
    await until('b sees the session end', () => b.peers()[0]!.state !== 'Established');
    assert.match(b.peers()[0]!.lastError, /Peer de-configured/);
    assert.equal(a.peers().length, 0);
  } finally {
    await a.stop();
    await b.stop();
  }
});

/**
 * TcpConnection over a loopback socket pair (no root): what arrives in one TCP chunk is framed
 * with the codec's Framer.feed, so the messages before a bad header still reach the FSM — a
 * peer's NOTIFICATION followed by garbage is reported as that NOTIFICATION, then the header error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { TcpConnection, encodeMessage } from './connection.js';
import type { FsmConnection, FsmInput } from './types.js';
import { DEFAULT_CODEC_OPTIONS, MessageType } from '../wire/types.js';

async function socketPair(): Promise<{ server: net.Server; ours: net.Socket; theirs: net.Socket }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const ours = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => ours.once('connect', () => r()));
  return { server, ours, theirs: await accepted };
}

test('a NOTIFICATION just before garbage in the same chunk is delivered, then the header error', async () => {
  const { server, ours, theirs } = await socketPair();
  const events: FsmInput<FsmConnection>[] = [];
  const conn = new TcpConnection(ours, true, (ev) => events.push(ev));
  try {
    const notification = encodeMessage({ type: MessageType.Notification, code: 6, subcode: 2, data: new Uint8Array(0) }, DEFAULT_CODEC_OPTIONS);
    // 19 bytes whose marker is not all ones: RFC 4271 §6.1 Connection Not Synchronized.
    const garbage = new Uint8Array(19).fill(0x41);
    const chunk = new Uint8Array(notification.length + garbage.length);
    chunk.set(notification, 0);
    chunk.set(garbage, notification.length);
    theirs.write(chunk);
    const end = Date.now() + 5_000;
    while (events.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    assert.equal(events.length, 2, `events: ${JSON.stringify(events.map((e) => e.kind))}`);
    const [first, second] = events;
    assert.equal(first!.kind, 'message');
    assert.deepEqual(first!.kind === 'message' && first.msg.type === MessageType.Notification ? [first.msg.code, first.msg.subcode] : undefined, [6, 2]);
    assert.equal(second!.kind, 'decode-error');
    assert.deepEqual(second!.kind === 'decode-error' ? [second.notification.code, second.notification.subcode] : undefined, [1, 1]);
    // Bytes after the bad header are never framed again: no further events.
    theirs.write(notification);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(events.length, 2);
  } finally {
    conn.close();
    theirs.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

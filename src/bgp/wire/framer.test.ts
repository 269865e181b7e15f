import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Framer } from './framer.js';
import { BgpDecodeError } from './errors.js';
import { hex, MARKER, toHex } from './test-util.js';

// Hand-written from RFC 4271 §4: a KEEPALIVE, an OPEN (AS 65001, hold 90, id 10.0.0.1, no
// optional parameters), a NOTIFICATION 6/2 (Cease / Administrative Shutdown), a ROUTE-REFRESH for
// IPv6 unicast (RFC 2918), and another KEEPALIVE.
const MESSAGES = [
  `${MARKER} 0013 04`,
  `${MARKER} 001d 01 04 fde9 005a 0a000001 00`,
  `${MARKER} 0015 03 06 02`,
  `${MARKER} 0017 05 0002 00 01`,
  `${MARKER} 0013 04`,
].map(hex);
const STREAM = Uint8Array.from(MESSAGES.flatMap((m) => [...m]));

function run(chunks: Uint8Array[]): string[] {
  const f = new Framer();
  const out: string[] = [];
  for (const c of chunks) for (const m of f.push(c)) out.push(toHex(m));
  assert.equal(f.bufferedBytes, 0);
  return out;
}

const EXPECTED = MESSAGES.map(toHex);

test('framer: whole stream in one chunk yields every message, zero-copy', () => {
  const f = new Framer();
  const got = f.push(STREAM);
  assert.deepEqual(got.map(toHex), EXPECTED);
  assert.ok(got.every((m) => m.buffer === STREAM.buffer), 'messages inside one chunk are subarrays');
});

test('framer: every single split offset', () => {
  for (let i = 0; i <= STREAM.length; i++) {
    assert.deepEqual(run([STREAM.subarray(0, i), STREAM.subarray(i)]), EXPECTED, `split at ${i}`);
  }
});

test('framer: every pair of split offsets (three chunks)', () => {
  for (let i = 0; i <= STREAM.length; i++) {
    for (let j = i; j <= STREAM.length; j++) {
      assert.deepEqual(run([STREAM.subarray(0, i), STREAM.subarray(i, j), STREAM.subarray(j)]), EXPECTED, `split at ${i},${j}`);
    }
  }
});

test('framer: one byte at a time', () => {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < STREAM.length; i++) chunks.push(STREAM.subarray(i, i + 1));
  assert.deepEqual(run(chunks), EXPECTED);
});

test('framer: a split message is copied out, not aliased to the assembly buffer', () => {
  const f = new Framer();
  const a = f.push(STREAM.subarray(0, 25));
  const b = f.push(STREAM.subarray(25, 60));
  const first = b[0]!;
  f.push(STREAM.subarray(60));
  assert.equal(a.length, 1);
  assert.equal(toHex(first), EXPECTED[1]);
});

test('framer: bad marker found as soon as the header is complete, then poisoned', () => {
  const bad = hex(`${MARKER.slice(0, 30)}fe 0013 04`);
  const f = new Framer();
  assert.deepEqual(f.push(bad.subarray(0, 18)), []);
  assert.throws(() => f.push(bad.subarray(18)), (e: unknown) => e instanceof BgpDecodeError && e.notifCode === 1 && e.notifSubcode === 1);
  assert.throws(() => f.push(hex(`${MARKER} 0013 04`)), BgpDecodeError);
});

test('framer: bad length reported with the length field as data', () => {
  const f = new Framer();
  assert.throws(
    () => f.push(hex(`${MARKER} 1001 02`)),
    (e: unknown) => e instanceof BgpDecodeError && e.notifSubcode === 2 && toHex(e.data) === '1001',
  );
  const g = new Framer({ extendedMessages: true });
  assert.deepEqual(g.push(hex(`${MARKER} 1001 02`)), [], 'UPDATE of 4097 bytes fine with extended messages');
  assert.throws(() => new Framer({ extendedMessages: true }).push(hex(`${MARKER} 1001 01`)), BgpDecodeError, 'OPEN stays <= 4096');
});

test('framer: unknown type', () => {
  assert.throws(
    () => new Framer().push(hex(`${MARKER} 0013 09`)),
    (e: unknown) => e instanceof BgpDecodeError && e.notifCode === 1 && e.notifSubcode === 3 && toHex(e.data) === '09',
  );
});

test('framer: feed delivers the messages before a bad header, then throws', () => {
  const f = new Framer();
  const got: string[] = [];
  const bad = Uint8Array.from([...STREAM.subarray(0, 19 + 29), ...hex(`${MARKER} 0013 07`)]);
  assert.throws(() => f.feed(bad, (m) => got.push(toHex(m))), BgpDecodeError);
  assert.deepEqual(got, EXPECTED.slice(0, 2));
});

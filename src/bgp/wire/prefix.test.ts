/**
 * IPv4 prefix keys (prefix.ts): text ↔ key round trips at every length and at the edges of the
 * address space, rejection of text that is not an IPv4 prefix, and agreement between the keys
 * the decoder hands out (`UpdateMessage.nlriKeys`) and the keys of the text it hands out. The
 * expected keys are computed here with BigInt, independently of the code under test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeIpv4Nlri,
  ipv4PrefixKey,
  ipv4PrefixKeyAddress,
  ipv4PrefixKeyLength,
  ipv4PrefixKeyOf,
  ipv4PrefixKeyText,
} from './prefix.js';
import type { Nlri } from './types.js';

/** 2^len + top len bits of the dotted quad, in BigInt arithmetic. */
function expectedKey(dotted: string, len: number): number {
  const addr = dotted.split('.').reduce((n, o) => n * 256n + BigInt(o), 0n);
  return Number((1n << BigInt(len)) + (addr >> BigInt(32 - len)));
}

/** Canonical text of addr/len with host bits cleared, without the code under test. */
function canonical(dotted: string, len: number): string {
  const addr = dotted.split('.').reduce((n, o) => n * 256n + BigInt(o), 0n);
  const net = len === 0 ? 0n : (addr >> BigInt(32 - len)) << BigInt(32 - len);
  return `${(net >> 24n) & 255n}.${(net >> 16n) & 255n}.${(net >> 8n) & 255n}.${net & 255n}/${len}`;
}

test('IPv4 prefix key: the edges of the address space', () => {
  assert.equal(ipv4PrefixKeyOf('0.0.0.0/0'), 1);
  assert.equal(ipv4PrefixKeyText(1), '0.0.0.0/0');
  assert.equal(ipv4PrefixKeyOf('255.255.255.255/32'), 2 ** 33 - 1);
  assert.equal(ipv4PrefixKeyText(2 ** 33 - 1), '255.255.255.255/32');
  assert.equal(ipv4PrefixKeyOf('0.0.0.0/32'), 2 ** 32);
  assert.equal(ipv4PrefixKeyText(2 ** 32), '0.0.0.0/32');
  assert.equal(ipv4PrefixKeyOf('128.0.0.0/1'), 3);
  assert.equal(ipv4PrefixKeyOf('0.0.0.0/1'), 2);
});

test('IPv4 prefix key: every length /0../32 round-trips, host bits dropped, keys in [2^len, 2^(len+1))', () => {
  for (const addr of ['255.255.255.255', '0.0.0.0', '10.65.4.3', '128.0.0.1', '192.168.255.254', '1.2.3.4']) {
    for (let len = 0; len <= 32; len++) {
      const want = expectedKey(addr, len);
      const text = `${addr}/${len}`;
      const key = ipv4PrefixKeyOf(text);
      assert.equal(key, want, text);
      assert.ok(key >= 2 ** len && key < 2 ** (len + 1), text);
      assert.equal(ipv4PrefixKeyText(key), canonical(addr, len), text);
      assert.equal(ipv4PrefixKeyLength(key), len, text);
      assert.equal(ipv4PrefixKeyOf(ipv4PrefixKeyText(key)), key, text);
      const parts = addr.split('.').map(Number);
      const n = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
      assert.equal(ipv4PrefixKey(n, len), want, `numeric ${text}`);
      assert.equal(ipv4PrefixKey(n | 0, len), want, `signed numeric ${text}`);
      assert.equal(ipv4PrefixKeyText(key), canonical(addr, len));
      const net = canonical(addr, len).split('/')[0]!.split('.').reduce((x, o) => x * 256 + Number(o), 0);
      assert.equal(ipv4PrefixKeyAddress(key), net, text);
      // What keeps the RIB's keys small integers in V8 (no heap number per prefix).
      if (len <= 30) assert.ok(key < 2 ** 31, text);
    }
  }
});

test('IPv4 prefix key: random prefixes round-trip and distinct prefixes get distinct keys', () => {
  const seen = new Map<number, string>();
  let seed = 12345;
  const rand = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < 5000; i++) {
    const addr = `${rand() & 255}.${rand() & 255}.${rand() & 255}.${rand() & 255}`;
    const len = rand() % 33;
    const text = canonical(addr, len);
    const key = ipv4PrefixKeyOf(text);
    assert.equal(key, expectedKey(addr, len));
    assert.equal(ipv4PrefixKeyText(key), text);
    const other = seen.get(key);
    assert.ok(other === undefined || other === text, `${text} and ${other} share key ${key}`);
    seen.set(key, text);
  }
});

test('IPv4 prefix key: text that is not an IPv4 prefix gives -1', () => {
  for (const bad of [
    '',
    '10.0.0.0',
    '10.0.0/8',
    '10.0.0.0/33',
    '10.0.0.0/',
    '256.0.0.0/8',
    '1.2.3.4.5/8',
    '1..2.3/8',
    '.1.2.3/8',
    'a.b.c.d/8',
    '1.2.3.4/x',
    '1.2.3.4/-1',
    '1.2.3.4 /8',
    '1.2.3.4/8/8',
    '1234.0.0.0/8',
    '::/0',
    'fd00::/64',
    '::ffff:10.0.0.0/104',
  ]) {
    assert.equal(ipv4PrefixKeyOf(bad), -1, JSON.stringify(bad));
  }
});

test('decodeIpv4Nlri: the keys it hands out are the keys of the text it hands out, with and without path ids', () => {
  let seed = 777;
  const rand = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (const addPath of [false, true]) {
    const bytes: number[] = [];
    for (let i = 0; i < 2000; i++) {
      if (addPath) bytes.push(0, 0, 0, i & 255);
      const len = rand() % 33;
      bytes.push(len);
      // Random host bits too: the decoder must drop them from text and key alike.
      for (let j = 0; j < (len + 7) >> 3; j++) bytes.push(rand() & 255);
    }
    const out: Nlri[] = [];
    const keys: number[] = [];
    decodeIpv4Nlri(Uint8Array.from(bytes), 0, bytes.length, addPath, out, keys);
    assert.equal(out.length, 2000);
    assert.equal(keys.length, out.length);
    out.forEach((n, i) => assert.equal(keys[i], ipv4PrefixKeyOf(n.prefix), n.prefix));
  }
});

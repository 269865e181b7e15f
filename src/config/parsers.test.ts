import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failsafePortsType, markMaskType, portRangeType } from './parsers.js';

const parse = <T>(t: { schema: { safeParse(s: string): { success: boolean; data?: T; error?: { issues: { message: string }[] } } } }, s: string) => t.schema.safeParse(s);

test('failsafe ports: Felix forms, none, and a clear error for the rest', () => {
  assert.deepEqual(parse(failsafePortsType, 'tcp:22, udp:68,tcp:10.0.0.0/8:2379,tcp:[fd00::/8]:22,179').data, [
    { protocol: 'tcp', port: 22 },
    { protocol: 'udp', port: 68 },
    { protocol: 'tcp', port: 2379, net: '10.0.0.0/8' },
    { protocol: 'tcp', port: 22, net: 'fd00::/8' },
    { protocol: 'tcp', port: 179 },
  ]);
  assert.deepEqual(parse(failsafePortsType, 'none').data, []);
  const bad = parse(failsafePortsType, 'tcp:22,icmp:1');
  assert.equal(bad.success, false);
  assert.match(bad.error!.issues[0]!.message, /'icmp:1' is not protocol:port/);
  assert.match(parse(failsafePortsType, 'tcp:70000').error!.issues[0]!.message, /out of range/);
  assert.equal(failsafePortsType.format([{ protocol: 'tcp', port: 22 }, { protocol: 'udp', port: 53, net: '10.0.0.0/8' }]), 'tcp:22,udp:10.0.0.0/8:53');
});

test('mark mask: hex or decimal, at least the five bits Felix needs', () => {
  assert.equal(parse(markMaskType, '0xffff0000').data, 0xffff0000);
  assert.equal(parse(markMaskType, '31').data, 31);
  assert.match(parse(markMaskType, '0x0f').error!.issues[0]!.message, /only 4 bits set/);
  assert.equal(parse(markMaskType, '0x1ffffffff').success, false);
  assert.equal(markMaskType.format(0xffff0000), '0xffff0000');
});

test('NAT port range: first:last or 0', () => {
  assert.deepEqual(parse(portRangeType, '32768:65535').data, { first: 32768, last: 65535 });
  assert.equal(parse(portRangeType, '0').data, null);
  assert.equal(parse(portRangeType, '9:8').success, false);
});

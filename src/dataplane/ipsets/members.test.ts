/**
 * Member canonicalisation against what `ipset save` (v7.17) printed for the same input in a
 * scratch namespace: every expected string below was copied from the tool's output, not
 * produced by the code under test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalMember, memberIpVersion, parseV6, formatV6 } from './members.js';

test('hash:net: host prefixes print bare, host bits are cleared, canonical input is kept', () => {
  const cases: [string, string][] = [
    ['10.0.0.1/32', '10.0.0.1'],
    ['10.0.1.0/24', '10.0.1.0/24'],
    ['10.0.2.5/24', '10.0.2.0/24'],
    ['0.0.0.0/1', '0.0.0.0/1'],
    ['128.0.0.0/1', '128.0.0.0/1'],
    ['0.0.0.0', '0.0.0.0'],
    ['0.0.0.0/8', '0.0.0.0/8'],
    ['10.0.0.7', '10.0.0.7'],
    ['fd00:0:0:0::1/128', 'fd00::1'],
    ['FD00:0000:1::/64', 'fd00:0:1::/64'],
    ['::ffff:1.2.3.4/128', '::ffff:1.2.3.4'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['::ffff:0:0/96', '::ffff:0.0.0.0/96'],
    ['::/1', '::/1'],
    ['8000::/1', '8000::/1'],
    ['::/8', '::/8'],
    ['::/128', '::'],
    ['fd00::1:2:3/100', 'fd00::1:0:0/100'],
  ];
  for (const [input, want] of cases) assert.equal(canonicalMember('net', input), want, input);
});

test('a /0 is kept as the /0 (the reconciler stores it as two /1s, which hash:net can hold)', () => {
  assert.equal(canonicalMember('net', '0.0.0.0/0'), '0.0.0.0/0');
  assert.equal(canonicalMember('net', '10.1.2.3/0'), '0.0.0.0/0');
  assert.equal(canonicalMember('net', '::1/0'), '::/0');
});

test("IPv6 is glibc inet_ntop's text, dotted tail included", () => {
  const cases: [string, string][] = [
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::1.2.3.4', '::1.2.3.4'],
    ['::1', '::1'],
    ['1:0:0:1:0:0:0:1', '1:0:0:1::1'],
    ['1:0:0:0:1:0:0:1', '1::1:0:0:1'],
    ['::ffff:0:102:304', '::ffff:0:102:304'],
    ['0:0:0:0:0:1:0:0', '::1:0:0'],
    ['::2:3:4', '::2:3:4'],
    ['::2', '::2'],
    ['::ffff', '::ffff'],
    ['::1:2', '::0.1.0.2'],
    ['::1:0:2', '::1:0:2'],
    ['::ffff:1:2', '::ffff:0.1.0.2'],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['fd00:0::3', 'fd00::3'],
    ['FD00::A', 'fd00::a'],
  ];
  for (const [input, want] of cases) assert.equal(canonicalMember('ip', input), want, input);
});

test('hash:ip,port: lowercase protocol, decimal port, both families', () => {
  const cases: [string, string][] = [
    ['10.0.0.1,tcp:80', '10.0.0.1,tcp:80'],
    ['10.0.0.1,TCP:80', '10.0.0.1,tcp:80'],
    ['10.0.0.1,udp:53', '10.0.0.1,udp:53'],
    ['10.0.0.1,sctp:9', '10.0.0.1,sctp:9'],
    ['10.0.0.9,tcp:65535', '10.0.0.9,tcp:65535'],
    ['10.0.0.3,tcp:0', '10.0.0.3,tcp:0'],
    ['10.0.0.1,tcp:080', '10.0.0.1,tcp:80'],
    ['fd00::1,tcp:80', 'fd00::1,tcp:80'],
    ['fd00:0::3,udp:443', 'fd00::3,udp:443'],
    ['::ffff:1.2.3.4,udp:53', '::ffff:1.2.3.4,udp:53'],
    ['::1:2,sctp:1', '::0.1.0.2,sctp:1'],
    ['FD00::A,tcp:65535', 'fd00::a,tcp:65535'],
  ];
  for (const [input, want] of cases) assert.equal(canonicalMember('ip-port', input), want, input);
});

test('hash:ip: an address, or a full-length prefix of one', () => {
  assert.equal(canonicalMember('ip', '10.0.0.1'), '10.0.0.1');
  assert.equal(canonicalMember('ip', '10.0.0.1/32'), '10.0.0.1');
  assert.equal(canonicalMember('ip', 'fd00::1/128'), 'fd00::1');
  assert.equal(canonicalMember('ip', '255.255.255.255'), '255.255.255.255');
});

test('what the kernel would refuse or misread is refused', () => {
  const bad: [Parameters<typeof canonicalMember>[0], string][] = [
    ['ip', '010.0.0.9'], // octal to ipset: would be stored as 8.0.0.9
    ['ip', '0.0.0.0'], // "Null-valued element"
    ['ip', '::'],
    ['ip', '10.0.0.0/30'],
    ['ip', '256.0.0.1'],
    ['ip', '1.2.3'],
    ['ip', '1.2.3.4.5'],
    ['ip', '1..2.3'],
    ['ip', ' 1.2.3.4'],
    ['ip', 'bogus'],
    ['ip', 'fe80::1%eth0'],
    ['ip', '1:2:3:4:5:6:7:8:9'],
    ['ip', '1::2::3'],
    ['ip', ':1::'],
    ['ip', '12345::1'],
    ['net', '10.0.0.0/33'],
    ['net', '10.0.0.0/'],
    ['net', '10.0.0.0/x'],
    ['net', 'fd00::/129'],
    ['ip-port', '10.0.0.1'],
    ['ip-port', '10.0.0.1,80'],
    ['ip-port', '10.0.0.1,icmp:8'],
    ['ip-port', '10.0.0.1,tcp:65536'],
    ['ip-port', '10.0.0.1,tcp:http'],
    ['ip-port', '10.0.0.1,tcp:'],
    ['ip-port', '0.0.0.0,tcp:80'], // "Kernel error received: Invalid argument"
  ];
  for (const [type, m] of bad) assert.throws(() => canonicalMember(type, m), /invalid .* IP set member/, `${type} ${m}`);
});

test('family of a member as the calc writes it', () => {
  assert.equal(memberIpVersion('ip', '10.0.0.1'), 4);
  assert.equal(memberIpVersion('ip', 'fd00::1'), 6);
  assert.equal(memberIpVersion('net', '10.0.0.0/24'), 4);
  assert.equal(memberIpVersion('net', 'fd00::/64'), 6);
  assert.equal(memberIpVersion('ip-port', '10.0.0.1,tcp:80'), 4);
  assert.equal(memberIpVersion('ip-port', 'fd00::1,tcp:80'), 6);
});

test('parse and format IPv6 round-trip for every pattern of zero groups', () => {
  // Exhaustive over which groups are zero: the run-finding and the dotted rule see every shape.
  for (let mask = 0; mask < 256; mask++) {
    const w = Array.from({ length: 8 }, (_, i) => ((mask >> i) & 1 ? 0x1a2b : 0));
    const text = formatV6(w);
    assert.deepEqual(parseV6(text), w, text);
    // Never two `::`, never a lone compressed zero group (RFC 5952 4.2.2).
    assert.ok(text.split('::').length <= 2, text);
  }
});

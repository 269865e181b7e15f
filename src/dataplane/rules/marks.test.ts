import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allCalicoMarkBits, allocateMarkBits, EndpointMarkMapper, goHex, mapMarkToNumber, mapNumberToMark } from './marks.js';

test('default mask 0xffff0000: accept, pass, drop, scratch0, scratch1 lowest first, the rest for endpoints', () => {
  assert.deepEqual(allocateMarkBits(), {
    accept: 0x10000,
    pass: 0x20000,
    drop: 0x40000,
    scratch0: 0x80000,
    scratch1: 0x100000,
    wireguard: 0,
    endpoint: 0xffe00000,
    nonCaliEndpoint: 0,
  });
});

test('WireGuard takes the bit after scratch1; IPVS reserves the lowest endpoint bit', () => {
  const m = allocateMarkBits(0xffff0000, { wireguard: true, kubeIpvs: true });
  assert.equal(m.wireguard, 0x200000);
  assert.equal(m.endpoint, 0xffc00000);
  assert.equal(m.nonCaliEndpoint, 0x400000);
});

test('a sparse mask is used bit by bit', () => {
  const m = allocateMarkBits(0x0000f0f0);
  assert.deepEqual([m.accept, m.pass, m.drop, m.scratch0, m.scratch1, m.endpoint], [0x10, 0x20, 0x40, 0x80, 0x1000, 0xe000]);
  assert.equal(allCalicoMarkBits(m), 0x10b0);
  assert.throws(() => allocateMarkBits(0xf), /too few bits/);
});

test('marks print like Go %#x', () => {
  assert.equal(goHex(0), '0x0');
  assert.equal(goHex(0x10000), '0x10000');
  assert.equal(goHex(0xffff0000), '0xffff0000');
});

test('numbers spread over the mask bits and back', () => {
  assert.equal(mapNumberToMark(0xff00, 0xd4), 0xd400);
  assert.equal(mapNumberToMark(0xf0f0, 0x1f), 0x10f0);
  assert.equal(mapMarkToNumber(0xf0f0, 0x10f0), 0x1f);
  assert.throws(() => mapNumberToMark(0xff00, 0x100));
});

test('endpoint marks: FNV-1 of the interface name over the mask (values from Felix dispatch tests)', () => {
  const m = new EndpointMarkMapper(0xff00, 0x100);
  assert.equal(m.getEndpointMark('cali1234'), 0xd400);
  assert.equal(m.getEndpointMark('cali2333'), 0xa700);
  assert.equal(m.getEndpointMark('cali2444'), 0x5200);
  assert.equal(m.getEndpointMark('cali1234'), 0xd400, 'stable once allocated');
  const n = new EndpointMarkMapper(0xff00, 0x100);
  assert.deepEqual(
    ['cali11', 'cali12', 'cali13', 'cali21', 'cali22'].map((x) => n.getEndpointMark(x)),
    [0x200, 0x300, 0x400, 0xf700, 0xf400],
  );
});

test('endpoint marks probe past taken positions and never hand out the non-Calico mark', () => {
  const m = new EndpointMarkMapper(0xff00, 0xd400);
  // cali1234 hashes to 0xd4, which is taken: it gets the next free position.
  assert.equal(m.getEndpointMark('cali1234'), 0xd500);
  m.releaseEndpointMark('cali1234');
  m.setEndpointMark('eth0', 0xd500);
  assert.equal(m.getEndpointMark('cali1234'), 0xd600);
  assert.throws(() => m.setEndpointMark('eth1', 0xd500), /already belongs/);
});

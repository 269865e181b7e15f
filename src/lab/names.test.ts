import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { caliInterfaceName, labOfNetns, netnsName, nodeIp, nodeSubnet, podNetnsName, validateDnsLabel, validateLabName } from './names.js';
import { UserError } from '../util/errors.js';

test('lab names: short lowercase alphanumerics only', () => {
  for (const ok of ['a', 'demo', 'x1', 'abcdefghijkl']) validateLabName(ok);
  for (const bad of ['', 'A', '1a', 'a-b', 'a_b', 'abcdefghijklm', 'a.b', 'a/b', ' a']) {
    assert.throws(() => validateLabName(bad), UserError, bad);
  }
});

test('DNS labels for pods and namespaces', () => {
  validateDnsLabel('pod', 'web-1');
  assert.throws(() => validateDnsLabel('pod', '-web'), UserError);
  assert.throws(() => validateDnsLabel('pod', 'Web'), UserError);
  assert.throws(() => validateDnsLabel('pod', 'a'.repeat(64)), UserError);
});

test('namespaces map back to their lab, and labs never share a prefix', () => {
  assert.equal(labOfNetns(netnsName('demo', 'node-1')), 'demo');
  assert.equal(labOfNetns(podNetnsName('demo', 'default', 'web-1')), 'demo');
  assert.equal(labOfNetns('tt-bgp-1-a'), undefined);
  assert.equal(labOfNetns('tl-'), undefined);
  // Lab 'a' cannot own lab 'ab' (no '-' in lab names).
  assert.equal(netnsName('ab', 'fab').startsWith('tl-a-'), false);
});

test('addresses: one subnet, and two subnets split in half', () => {
  assert.equal(nodeIp(1, 3, 1), '198.18.0.11');
  assert.equal(nodeIp(3, 3, 1), '198.18.0.13');
  assert.deepEqual([1, 2, 3, 4].map((i) => nodeSubnet(i, 4, 2)), [0, 0, 1, 1]);
  assert.deepEqual([1, 2, 3].map((i) => nodeSubnet(i, 3, 2)), [0, 0, 1]);
  assert.equal(nodeIp(4, 4, 2), '198.18.1.14');
});

test('cali interface name is cali + 11 hex of sha1(ns.pod), 15 chars', () => {
  const expected = 'cali' + createHash('sha1').update('default.web-1').digest('hex').slice(0, 11);
  assert.equal(caliInterfaceName('default', 'web-1'), expected);
  assert.equal(expected.length, 15);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAutodetectMethod, parseIpAddrJson, selectAddress, interfaceOf, type InterfaceAddrs } from './autodetect.js';

/** A host with Calico's own devices, a docker bridge and two real NICs (ordered by ifindex). */
const host: InterfaceAddrs[] = [
  { name: 'lo', index: 1, mtu: 65536, up: true, addrs: ['127.0.0.1/8'] },
  { name: 'docker0', index: 2, mtu: 1500, up: true, addrs: ['172.17.0.1/16'] },
  { name: 'cali12345', index: 3, mtu: 1500, up: true, addrs: ['169.254.1.1/32'] },
  { name: 'vxlan.calico', index: 4, mtu: 1450, up: true, addrs: ['10.65.0.0/32'] },
  { name: 'eth0', index: 5, mtu: 9000, up: true, addrs: ['198.18.0.11/24', '198.18.0.99/24'] },
  { name: 'eth1', index: 6, mtu: 1500, up: true, addrs: ['192.0.2.5/28'] },
  { name: 'nodelocaldns', index: 7, mtu: 1500, up: true, addrs: ['169.254.20.10/32'] },
];

test('first-found skips Calico, docker and loopback devices and takes the first address of the first NIC', () => {
  assert.deepEqual(selectAddress(parseAutodetectMethod('first-found'), host), { cidr: '198.18.0.11/24', iface: 'eth0', mtu: 9000 });
  // Order is by ifindex, not by the order the kernel listed them in.
  assert.equal(selectAddress({ kind: 'first-found' }, [...host].reverse())?.iface, 'eth0');
});

test('interface= and skip-interface= match names by regex', () => {
  assert.equal(selectAddress(parseAutodetectMethod('interface=eth1'), host)?.cidr, '192.0.2.5/28');
  assert.equal(selectAddress(parseAutodetectMethod('interface=nomatch,eth.*'), host)?.iface, 'eth0');
  assert.equal(selectAddress(parseAutodetectMethod('skip-interface=lo,docker0,cali.*,vxlan.*,eth0'), host)?.iface, 'eth1');
  assert.equal(selectAddress(parseAutodetectMethod('interface=wlan0'), host), undefined);
});

test('cidr= picks the first address inside one of the CIDRs; can-reach= uses the route source', () => {
  assert.equal(selectAddress(parseAutodetectMethod('cidr=192.0.2.0/24'), host)?.cidr, '192.0.2.5/28');
  assert.equal(selectAddress(parseAutodetectMethod('cidr=10.0.0.0/8, 198.18.0.96/27'), host)?.cidr, '198.18.0.99/24');
  const m = parseAutodetectMethod('can-reach=198.18.0.1');
  assert.deepEqual(m, { kind: 'can-reach', dest: '198.18.0.1' });
  assert.equal(selectAddress(m, host, '198.18.0.99')?.cidr, '198.18.0.99/24');
  assert.equal(selectAddress(m, host, undefined), undefined);
});

test('bad methods are user errors naming the problem', () => {
  assert.throws(() => parseAutodetectMethod('interface=('), /not a valid regular expression/);
  assert.throws(() => parseAutodetectMethod('guess'), /not supported/);
  assert.throws(() => parseAutodetectMethod('cidr='), /at least one CIDR/);
});

test('ip -json addr parsing keeps IPv4 non-host addresses; interfaceOf finds the uplink of an address', () => {
  const j = JSON.stringify([
    { ifindex: 1, ifname: 'lo', flags: ['LOOPBACK', 'UP'], mtu: 65536, addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }] },
    { ifindex: 2, ifname: 'eth0', flags: ['UP'], mtu: 1500, addr_info: [{ family: 'inet', local: '198.18.0.11', prefixlen: 24, scope: 'global' }, { family: 'inet6', local: 'fe80::1', prefixlen: 64 }] },
  ]);
  const parsed = parseIpAddrJson(j);
  assert.deepEqual(parsed[0]!.addrs, []);
  assert.deepEqual(parsed[1], { name: 'eth0', index: 2, mtu: 1500, up: true, addrs: ['198.18.0.11/24'] });
  assert.deepEqual(interfaceOf('198.18.0.11', parsed), { cidr: '198.18.0.11/24', iface: 'eth0', mtu: 1500 });
});

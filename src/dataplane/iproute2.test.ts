import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBatchErrors, runBatch } from './batch.js';
import { parseRouteJson, routeDeleteLine, routeReplaceLine } from './iproute2-routes.js';
import { linkOpLine, parseLinkJson } from './iproute2-links.js';
import { fdbOpLine, neighOpLine } from './iproute2-neigh.js';
import { parseMonitorLine } from './monitor.js';
import { canonicalCidr } from './addr.js';
import { vxlanMac } from './vxlan-mac.js';
import type { CommandRunner } from './exec.js';

test('batch errors map back to their line numbers (messages precede the marker)', () => {
  // Captured from `ip -force -batch -` on iproute2 6.1.
  const stderr = 'RTNETLINK answers: No such process\nCommand failed -:1\nRTNETLINK answers: File exists\nCommand failed -:3\nError: Unknown device type.\nCommand failed -:4\n';
  assert.deepEqual(
    [...parseBatchErrors(stderr)],
    [
      [1, 'RTNETLINK answers: No such process'],
      [3, 'RTNETLINK answers: File exists'],
      [4, 'Error: Unknown device type.'],
    ],
  );
});

test('runBatch gives one result per line and rejects newlines inside a line', async () => {
  const runner: CommandRunner = { run: async () => ({ code: 1, stdout: '', stderr: 'Error: boom\nCommand failed -:2\n' }) };
  const r = await runBatch(runner, ['ip'], ['a', 'b', 'c']);
  assert.deepEqual(r, [{ ok: true }, { ok: false, error: 'Error: boom' }, { ok: true }]);
  await assert.rejects(runBatch(runner, ['ip'], ['a\nb']), /newline/);
  const dead: CommandRunner = { run: async () => ({ code: 255, stdout: '', stderr: 'ip: cannot open netns' }) };
  await assert.rejects(runBatch(dead, ['ip'], ['a']), /exit code 255/);
});

test('streamed batches hand lines over in chunks, report progress, and kill a half-fed child on error', async () => {
  let input = '';
  let killed = false;
  const runner: CommandRunner = {
    run: async () => ({ code: 0, stdout: '', stderr: '' }),
    start: () => ({
      write: async (d: string) => {
        input += d;
      },
      end: async () => ({ code: 1, stdout: '', stderr: 'Error: bad\nCommand failed -:5000\n' }),
      kill: () => {
        killed = true;
      },
    }),
  };
  const sent: [number, number][] = [];
  const lines = { length: 5000, line: (i: number): string => `l${i}` };
  const r = await runBatch(runner, ['ip'], lines, { onSent: (a, b) => void sent.push([a, b]) });
  assert.equal(input.split('\n').length - 1, 5000);
  // A small first write so `ip` starts at once, then full chunks.
  assert.deepEqual(sent, [[0, 256], [256, 1280], [1280, 2304], [2304, 3328], [3328, 4352], [4352, 5000]]);
  assert.equal(r.filter((x) => !x.ok).length, 1);
  assert.equal(r[4999]!.error, 'Error: bad');
  const bad = { length: 5000, line: (i: number): string => (i === 4500 ? 'a\nb' : 'x') };
  await assert.rejects(runBatch(runner, ['ip'], bad), /newline/);
  assert.equal(killed, true);
});

test('streamed batches ask for lines on demand and end when there are no more', async () => {
  let input = '';
  let started = 0;
  const runner: CommandRunner = {
    run: async () => ({ code: 0, stdout: '', stderr: '' }),
    start: () => {
      started++;
      return {
        write: async (d: string) => {
          input += d;
        },
        end: async () => ({ code: 0, stdout: '', stderr: '' }),
        kill: () => undefined,
      };
    },
  };
  // Produced 1000 at a time, with an empty step in between (more() may add nothing).
  const produced: string[] = [];
  let step = 0;
  const more = (): boolean => {
    if (produced.length >= 5000) return false;
    if (step++ % 2 === 1) for (let i = 0; i < 1000; i++) produced.push(`l${produced.length}`);
    return true;
  };
  const lines = { get length(): number { return produced.length; }, line: (i: number): string => produced[i]! };
  const sent: [number, number][] = [];
  const r = await runBatch(runner, ['ip'], lines, { more, onSent: (a, b) => void sent.push([a, b]) });
  assert.equal(r.length, 5000);
  assert.equal(input, produced.map((l) => `${l}\n`).join(''));
  assert.deepEqual(sent, [[0, 256], [256, 1280], [1280, 2304], [2304, 3328], [3328, 4352], [4352, 5000]]);
  // Nothing produced at all: no child.
  assert.deepEqual(await runBatch(runner, ['ip'], [], { more: () => false }), []);
  assert.equal(started, 1);
  // The same without streaming: everything is produced before the one run.
  produced.length = 0;
  step = 0;
  const plain: CommandRunner = { run: async (_argv, o) => ({ code: 0, stdout: '', stderr: (o?.input ?? '').split('\n').length === 5001 ? '' : 'short' }) };
  assert.equal((await runBatch(plain, ['ip'], lines, { more })).length, 5000);
});

test('route JSON from `ip -N -j route show table all` is normalised with iproute2 defaults restored', () => {
  const absent = { dev: undefined, gateway: undefined, src: undefined, unsupported: false };
  assert.deepEqual(parseRouteJson({ dst: '10.64.0.5', dev: 'cali1234', scope: '253', flags: [] }, 4), {
    ...absent, table: 254, dst: '10.64.0.5/32', type: 'unicast', onlink: false, scope: 253, protocol: 3, metric: 0, dev: 'cali1234',
  });
  assert.deepEqual(parseRouteJson({ type: '6', dst: '10.99.0.0/26', protocol: '80', flags: [] }, 4), {
    ...absent, table: 254, dst: '10.99.0.0/26', type: 'blackhole', onlink: false, scope: 0, protocol: 80, metric: 0,
  });
  assert.equal(parseRouteJson({ dst: '10.1.0.0/16', nexthops: [{}, {}] }, 4).unsupported, true);
  const v = parseRouteJson({ dst: '10.97.0.0/24', gateway: '10.65.1.1', dev: 'vxlan.calico', table: '100', protocol: '80', metric: 5, flags: ['onlink'] }, 4);
  assert.deepEqual([v.table, v.gateway, v.onlink, v.metric], [100, '10.65.1.1', true, 5]);
  assert.equal(parseRouteJson({ type: '2', dst: '127.0.0.1', dev: 'lo', table: '255', protocol: '2', scope: '254' }, 4).type, 'other');
  assert.equal(parseRouteJson({ dst: 'default', gateway: '198.18.0.1', dev: 'eth0' }, 4).dst, '0.0.0.0/0');
  assert.equal(parseRouteJson({ dst: '2001:db8::/64', dev: 'cali1', protocol: '80', metric: 1024 }, 6).dst, '2001:db8::/64');
});

test('route lines state every field so the read-back compares equal', () => {
  const base = { table: 254, onlink: false, metric: 0 };
  assert.equal(routeReplaceLine({ ...base, dst: '10.65.0.5/32', type: 'unicast', dev: 'cali1', scope: 253, protocol: 3 }), 'route replace 10.65.0.5/32 dev cali1 scope 253 proto 3 metric 0 table 254');
  assert.equal(routeReplaceLine({ ...base, dst: '10.65.0.0/26', type: 'blackhole', scope: 0, protocol: 80 }), 'route replace blackhole 10.65.0.0/26 proto 80 metric 0 table 254');
  assert.equal(
    routeReplaceLine({ ...base, onlink: true, dst: '10.65.1.0/26', type: 'unicast', gateway: '10.65.1.1', dev: 'vxlan.calico', scope: 0, protocol: 80 }),
    'route replace 10.65.1.0/26 via 10.65.1.1 dev vxlan.calico onlink scope 0 proto 80 metric 0 table 254',
  );
  assert.equal(routeDeleteLine({ ...base, dst: '10.65.0.0/26', type: 'blackhole', scope: 0, protocol: 80 }), 'route del blackhole 10.65.0.0/26 proto 80 metric 0 table 254');
});

test('link JSON: vxlan parameters, flags and addresses (link-local IPv6 ignored)', () => {
  const l = parseLinkJson({
    ifindex: 4, ifname: 'vxlan.calico', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], mtu: 1450, address: '66:11:22:33:44:55', link_type: 'ether',
    linkinfo: { info_kind: 'vxlan', info_data: { id: 4096, local: '198.18.0.1', link: 'eth0', port: 4789, learning: false } },
    addr_info: [
      { family: 'inet', local: '10.65.0.1', prefixlen: 32, scope: 'global' },
      { family: 'inet6', local: 'fe80::6411:22ff:fe33:4455', prefixlen: 64, scope: 'link' },
    ],
  });
  assert.deepEqual(l, {
    name: 'vxlan.calico', index: 4, adminUp: true, lowerUp: true, mtu: 1450, mac: '66:11:22:33:44:55', kind: 'vxlan',
    vxlan: { vni: 4096, port: 4789, learning: false, parent: 'eth0', local: '198.18.0.1' }, addresses: ['10.65.0.1/32'],
  });
  assert.equal(
    linkOpLine({ op: 'add-vxlan', name: 'vxlan.calico', vxlan: { vni: 4096, port: 4789, parent: 'eth0', local: '198.18.0.1', learning: false } }),
    'link add name vxlan.calico type vxlan id 4096 dstport 4789 local 198.18.0.1 dev eth0 nolearning',
  );
  assert.equal(linkOpLine({ op: 'set', name: 'tunl0', mtu: 1480, up: true }), 'link set dev tunl0 mtu 1480 up');
});

test('neighbour and FDB lines', () => {
  assert.equal(neighOpLine({ op: 'replace', neigh: { dev: 'vxlan.calico', ip: '10.65.1.1', mac: '66:00:00:00:00:02', permanent: true } }), 'neigh replace 10.65.1.1 lladdr 66:00:00:00:00:02 dev vxlan.calico nud permanent');
  assert.equal(fdbOpLine({ op: 'replace', fdb: { dev: 'vxlan.calico', mac: '66:00:00:00:00:02', dst: '198.18.0.2', permanent: true } }), 'fdb replace 66:00:00:00:00:02 dev vxlan.calico dst 198.18.0.2 self permanent');
  assert.equal(fdbOpLine({ op: 'delete', fdb: { dev: 'vxlan.calico', mac: '66:00:00:00:00:02', dst: '198.18.0.2', permanent: true } }), 'fdb del 66:00:00:00:00:02 dev vxlan.calico dst 198.18.0.2 self');
});

test('ip monitor lines are classified (captured from iproute2 6.1)', () => {
  assert.deepEqual(parseMonitorLine('Deleted 10.64.0.7 dev cali1234 scope link '), { kind: 'route-deleted', line: 'Deleted 10.64.0.7 dev cali1234 scope link ' });
  assert.deepEqual(parseMonitorLine('3: cali1234@peer1: <NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN> mtu 1500 qdisc noqueue state LOWERLAYERDOWN group default '), { kind: 'link', name: 'cali1234' });
  assert.deepEqual(parseMonitorLine('Deleted 5: vxlan.calico: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UNKNOWN group default '), { kind: 'link', name: 'vxlan.calico' });
  assert.deepEqual(parseMonitorLine('Deleted 10.65.1.0 dev vxlan.calico lladdr 66:aa:bb:cc:dd:ee PERMANENT'), { kind: 'neigh-deleted', dev: 'vxlan.calico' });
  assert.deepEqual(parseMonitorLine('Deleted ff02::2 dev peer1 lladdr 33:33:00:00:00:02 NOARP '), { kind: 'neigh-deleted', dev: 'peer1' });
  assert.equal(parseMonitorLine('    link/ether a2:68:49:f7:ec:2a brd ff:ff:ff:ff:ff:ff'), undefined);
  assert.equal(parseMonitorLine('10.64.0.8 dev cali1234 scope link '), undefined);
});

test('canonical CIDRs', () => {
  assert.equal(canonicalCidr('10.0.0.1'), '10.0.0.1/32');
  assert.equal(canonicalCidr('2001:DB8:0:0::1'), '2001:db8::1/128');
  assert.equal(canonicalCidr('default', 6), '::/0');
  assert.throws(() => canonicalCidr('10.0.0.0/33'), /prefix length/);
});

test('VXLAN MAC follows Calico: 0x66 then the first five bytes of sha1(nodename)', () => {
  // `printf node-a | sha1sum` = 0702c1cc60ff9e13...
  assert.equal(vxlanMac('node-a'), '66:07:02:c1:cc:60');
  assert.equal(vxlanMac('node-a', 'AA:BB:CC:DD:EE:FF'), 'aa:bb:cc:dd:ee:ff');
});

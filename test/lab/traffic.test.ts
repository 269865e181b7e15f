/**
 * The traffic helpers (src/lab/traffic.ts) against two plain namespaces of this test, so the
 * policy tests can trust what they report: an answered connection with the client's address as
 * the listener saw it, a closed port refused, a DROP timing out, a REJECT unreachable, UDP and
 * ICMP both ways. iptables rules go into the server namespace only.
 *
 *   [tt-tr-<pid>-c] eth0 198.19.7.2/30 ──veth── eth0 198.19.7.1/30 [tt-tr-<pid>-s]
 *        clients                                      listeners, iptables INPUT rules
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ipIn, netnsAdd, netnsDelete, netnsList, netnsPids, runIn, sweepStaleNamespaces } from '../../src/lab/netns.js';
import { waitFor } from '../../src/lab/exec.js';
import { icmpPing, startTcpServer, tcpConnect, udpExchange, type TcpServer } from '../../src/lab/traffic.js';
import { requireRoot } from './helpers.js';

const PREFIX = 'tt-tr-';
const SERVER_NS = `${PREFIX}${process.pid}-s`;
const CLIENT_NS = `${PREFIX}${process.pid}-c`;
const SERVER_IP = '198.19.7.1';
const CLIENT_IP = '198.19.7.2';
/** Short: nothing in these tests needs longer than a local round trip, except the timeouts proved. */
const SHORT_MS = 1_000;

const servers: TcpServer[] = [];
async function serve(port: number, udp = false): Promise<TcpServer> {
  const s = await startTcpServer(SERVER_NS, port, { udp });
  servers.push(s);
  return s;
}

async function iptables(...args: string[]): Promise<void> {
  await runIn(SERVER_NS, ['iptables', '-w', '5', ...args]);
}

before(async () => {
  requireRoot();
  await sweepStaleNamespaces(PREFIX);
  await netnsAdd(SERVER_NS);
  await netnsAdd(CLIENT_NS);
  for (const ns of [SERVER_NS, CLIENT_NS]) await ipIn(ns, 'link', 'set', 'lo', 'up');
  await ipIn(SERVER_NS, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', CLIENT_NS);
  await ipIn(SERVER_NS, 'addr', 'add', `${SERVER_IP}/30`, 'dev', 'eth0');
  await ipIn(CLIENT_NS, 'addr', 'add', `${CLIENT_IP}/30`, 'dev', 'eth0');
  await ipIn(SERVER_NS, 'link', 'set', 'eth0', 'up');
  await ipIn(CLIENT_NS, 'link', 'set', 'eth0', 'up');
});

after(async () => {
  for (const s of servers) await s.stop().catch(() => undefined);
  await netnsDelete(CLIENT_NS);
  await netnsDelete(SERVER_NS);
  assert.deepEqual(netnsList().filter((n) => n === SERVER_NS || n === CLIENT_NS), []);
});

test('TCP: connected, answered, and the listener reports the client address', async () => {
  await serve(8080);
  const r = await tcpConnect(CLIENT_NS, SERVER_IP, 8080, SHORT_MS);
  assert.deepEqual(r, { ok: true, peerSeen: CLIENT_IP });
  // From the listener's own namespace the source is the local address.
  assert.deepEqual(await tcpConnect(SERVER_NS, '127.0.0.1', 8080, SHORT_MS), { ok: true, peerSeen: '127.0.0.1' });
});

test('TCP: a closed port is refused', async () => {
  const r = await tcpConnect(CLIENT_NS, SERVER_IP, 8999, SHORT_MS);
  assert.equal(r.ok, false);
  assert.equal(r.failure, 'refused', r.error);
});

test('TCP: a dropped destination times out, a rejected one is unreachable, and both recover', async () => {
  await serve(8081);
  await serve(8082);
  await iptables('-A', 'INPUT', '-p', 'tcp', '--dport', '8081', '-j', 'DROP');
  await iptables('-A', 'INPUT', '-p', 'tcp', '--dport', '8082', '-j', 'REJECT', '--reject-with', 'icmp-host-unreachable');
  try {
    const dropped = await tcpConnect(CLIENT_NS, SERVER_IP, 8081, SHORT_MS);
    assert.deepEqual(dropped, { ok: false, failure: 'timeout', error: `no answer within ${SHORT_MS} ms` });
    const rejected = await tcpConnect(CLIENT_NS, SERVER_IP, 8082, SHORT_MS);
    assert.equal(rejected.failure, 'unreachable', rejected.error);
  } finally {
    await iptables('-F', 'INPUT');
  }
  assert.equal((await tcpConnect(CLIENT_NS, SERVER_IP, 8081, SHORT_MS)).ok, true);
  assert.equal((await tcpConnect(CLIENT_NS, SERVER_IP, 8082, SHORT_MS)).ok, true);
});

test('TCP: a listener that does not answer counts as connected only when no answer is expected', async () => {
  // A bare listener that never writes (like a BGP speaker waiting for an OPEN), gone after 3 s.
  const quiet = runIn(SERVER_NS, [process.execPath, '-e', "require('net').createServer(() => {}).listen(8085); setTimeout(() => process.exit(0), 3000)"], {
    allowFailure: true,
    timeoutMs: 15_000,
  });
  try {
    const up = await waitFor(async () => (await tcpConnect(CLIENT_NS, SERVER_IP, 8085, SHORT_MS, { expectReply: false })).ok, {
      timeoutMs: 2_500,
      what: 'the quiet listener to accept',
    });
    assert.equal(up, true);
    assert.deepEqual(await tcpConnect(CLIENT_NS, SERVER_IP, 8085, 500), { ok: false, failure: 'no-reply', error: 'connected, but no answer within 500 ms' });
  } finally {
    await quiet;
  }
});

test('UDP: answered with the client address, a closed port refused, a drop timed out', async () => {
  await serve(5353, true);
  assert.deepEqual(await udpExchange(CLIENT_NS, SERVER_IP, 5353, SHORT_MS), { ok: true, peerSeen: CLIENT_IP });
  const closed = await udpExchange(CLIENT_NS, SERVER_IP, 5354, SHORT_MS);
  assert.equal(closed.failure, 'refused', closed.error);
  await iptables('-A', 'INPUT', '-p', 'udp', '--dport', '5353', '-j', 'DROP');
  try {
    assert.equal((await udpExchange(CLIENT_NS, SERVER_IP, 5353, SHORT_MS)).failure, 'timeout');
  } finally {
    await iptables('-F', 'INPUT');
  }
});

test('ICMP: an echo answered, and not when dropped', async () => {
  assert.deepEqual(await icmpPing(CLIENT_NS, SERVER_IP), { ok: true });
  await iptables('-A', 'INPUT', '-p', 'icmp', '-j', 'DROP');
  try {
    assert.deepEqual(await icmpPing(CLIENT_NS, SERVER_IP), { ok: false, error: 'no echo reply' });
  } finally {
    await iptables('-F', 'INPUT');
  }
});

test('a listener: a port in use is a clear error, stop ends it and frees the port', async () => {
  const s = await serve(9000);
  await assert.rejects(startTcpServer(SERVER_NS, 9000), /cannot start a listener on 0\.0\.0\.0:9000 in tt-tr-\d+-s: .*EADDRINUSE/);
  assert.ok((await netnsPids(SERVER_NS)).includes(s.pid));
  await s.stop();
  await s.stop();
  assert.ok(!(await netnsPids(SERVER_NS)).includes(s.pid));
  assert.equal((await tcpConnect(CLIENT_NS, SERVER_IP, 9000, SHORT_MS)).failure, 'refused');
});

/** `tortie status` text against calicoctl's own layout, written out by hand. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatNodeStatus, formatSince, renderTable } from './status.js';
import type { PeerStatus } from './speaker/peer.js';

function peer(over: Partial<PeerStatus>): PeerStatus {
  return {
    address: '198.18.0.12',
    type: 'node-to-node mesh',
    asNumber: 64512,
    passive: false,
    routeReflectorClient: false,
    state: 'Established' as PeerStatus['state'],
    protoState: 'up',
    since: new Date(2026, 0, 5, 9, 17, 24).toISOString(),
    info: 'Established',
    lastError: '',
    families: ['ipv4'],
    prefixes: {},
    flaps: 0,
    ...over,
  };
}

test('matches calicoctl node status for one IPv4 mesh peer and no IPv6 peers', () => {
  const now = new Date(2026, 0, 5, 10, 0, 0);
  const expected =
    'Calico process is running.\n' +
    '\n' +
    'IPv4 BGP status\n' +
    '+--------------+-------------------+-------+----------+-------------+\n' +
    '| PEER ADDRESS |     PEER TYPE     | STATE |  SINCE   |    INFO     |\n' +
    '+--------------+-------------------+-------+----------+-------------+\n' +
    '| 198.18.0.12  | node-to-node mesh | up    | 09:17:24 | Established |\n' +
    '+--------------+-------------------+-------+----------+-------------+\n' +
    '\n' +
    'IPv6 BGP status\n' +
    'No IPv6 peers found.\n' +
    '\n';
  assert.equal(formatNodeStatus([peer({})], now), expected);
});

test('IPv6 peers go in their own table; a failing peer shows BIRD-style info', () => {
  const now = new Date(2026, 0, 5, 10, 0, 0);
  const out = formatNodeStatus(
    [peer({ address: 'fd00::2', type: 'global', protoState: 'start', state: 'Active' as PeerStatus['state'], info: 'Active Socket: Connection refused' })],
    now,
  );
  assert.match(out, /IPv4 BGP status\nNo IPv4 peers found\.\n/);
  assert.ok(out.includes('| fd00::2      | global    | start | 09:17:24 | Active Socket: Connection refused |\n'), out);
});

test('since shows the date after 20 hours, as BIRD does', () => {
  assert.equal(formatSince(new Date(2026, 0, 1, 8, 0, 0).toISOString(), new Date(2026, 0, 5)), '2026-01-01');
});

test('table header cells are centred with the extra space on the right', () => {
  assert.equal(renderTable(['ab'], [['abcde']]), '+-------+\n|  AB   |\n+-------+\n| abcde |\n+-------+\n');
});

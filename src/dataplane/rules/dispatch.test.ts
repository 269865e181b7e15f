import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderEndpointMarkDispatchChains, renderHostDispatchChains, renderWorkloadDispatchChains } from './dispatch.js';
import { chainHashes } from './hash.js';
import { EndpointMarkMapper } from './marks.js';
import { ALL_INTERFACES } from './names.js';
import { cfgWith, linesOf } from './test-helpers.js';

const cfg = cfgWith({ workloadIfacePrefixes: ['cali', 'tap'] });
const UNKNOWN = '-m comment --comment "Unknown interface" --jump DROP';
const table = (chains: { name: string }[]) => chains.map((c) => c.name);

test('no endpoints: both dispatch chains only deny', () => {
  const chains = renderWorkloadDispatchChains([], cfg);
  assert.deepEqual(chains.map(linesOf), [[`-A cali-from-wl-dispatch ${UNKNOWN}`], [`-A cali-to-wl-dispatch ${UNKNOWN}`]]);
});

test('the dispatch chains of a real node (hashes observed)', () => {
  const names = ['calif6abb148530', 'cali55f439ddb0e', 'cali9d7310e16e7', 'cali26cecacb712', 'calic5a1f1aa0ed', 'cali112d888c0c2'];
  const [from, to] = renderWorkloadDispatchChains(names, cfgWith());
  assert.equal(from!.name, 'cali-from-wl-dispatch');
  assert.deepEqual(linesOf(from!).slice(0, 2), [
    '-A cali-from-wl-dispatch --in-interface cali112d888c0c2 --goto cali-fw-cali112d888c0c2',
    '-A cali-from-wl-dispatch --in-interface cali26cecacb712 --goto cali-fw-cali26cecacb712',
  ]);
  assert.deepEqual(chainHashes(from!), ['887K6j2m0yTxV8XZ', '-1f18nv9_J5o_MPL', 'X28EvX2q55aZM8gM', 'CxKCBaJmNdZnWGOY', 'ZPC1pWieGIBIr5A7', 'xDvXvF5yVFq7Y1QJ', 'FUqQW1upEuPXcL7s']);
  assert.deepEqual(chainHashes(to!), ['2HgECeqPiWlvDcYF', 'qItgN3WleQpIBiyv', '_Ru9douyhVpAz36r', 'D9Su0ifqHghdWNA-', 'yXvE2mPsXdk4a0va', 'bHXL9zWxzC6IixEY', 'XGNeZ7jL7MJ6PeId']);
});

test('names sharing a next character go to a child chain (Felix dispatch tests)', () => {
  const chains = renderWorkloadDispatchChains(['cali1234', 'cali2333', 'cali2444'], cfg);
  assert.deepEqual(table(chains), ['cali-from-wl-dispatch-2', 'cali-from-wl-dispatch', 'cali-to-wl-dispatch-2', 'cali-to-wl-dispatch']);
  assert.deepEqual(chains.map(linesOf), [
    [
      '-A cali-from-wl-dispatch-2 --in-interface cali2333 --goto cali-fw-cali2333',
      '-A cali-from-wl-dispatch-2 --in-interface cali2444 --goto cali-fw-cali2444',
      `-A cali-from-wl-dispatch-2 ${UNKNOWN}`,
    ],
    [
      '-A cali-from-wl-dispatch --in-interface cali1234 --goto cali-fw-cali1234',
      '-A cali-from-wl-dispatch --in-interface cali2+ --goto cali-from-wl-dispatch-2',
      `-A cali-from-wl-dispatch ${UNKNOWN}`,
    ],
    [
      '-A cali-to-wl-dispatch-2 --out-interface cali2333 --goto cali-tw-cali2333',
      '-A cali-to-wl-dispatch-2 --out-interface cali2444 --goto cali-tw-cali2444',
      `-A cali-to-wl-dispatch-2 ${UNKNOWN}`,
    ],
    [
      '-A cali-to-wl-dispatch --out-interface cali1234 --goto cali-tw-cali1234',
      '-A cali-to-wl-dispatch --out-interface cali2+ --goto cali-to-wl-dispatch-2',
      `-A cali-to-wl-dispatch ${UNKNOWN}`,
    ],
  ]);
});

test('several prefixes, input order and duplicates do not matter', () => {
  const chains = renderWorkloadDispatchChains(['cali22', 'cali11', 'cali13', 'cali21', 'cali12', 'cali11'], cfg);
  assert.deepEqual(table(chains), ['cali-from-wl-dispatch-1', 'cali-from-wl-dispatch-2', 'cali-from-wl-dispatch', 'cali-to-wl-dispatch-1', 'cali-to-wl-dispatch-2', 'cali-to-wl-dispatch']);
  assert.deepEqual(linesOf(chains[2]!), [
    '-A cali-from-wl-dispatch --in-interface cali1+ --goto cali-from-wl-dispatch-1',
    '-A cali-from-wl-dispatch --in-interface cali2+ --goto cali-from-wl-dispatch-2',
    `-A cali-from-wl-dispatch ${UNKNOWN}`,
  ]);
  assert.deepEqual(linesOf(chains[0]!).length, 4);
  assert.throws(() => renderWorkloadDispatchChains(['cali1', ''], cfg), /empty interface name/);
});

test('host endpoints: no end rule without an all-interfaces endpoint', () => {
  assert.deepEqual(renderHostDispatchChains([], cfg, { directions: 'from' }).map(linesOf), [[]]);
  const chains = renderHostDispatchChains(['eth1234', 'eth2333', 'eth2444'], cfg, { directions: 'from' });
  assert.deepEqual(chains.map(linesOf), [
    ['-A cali-from-host-endpoint-2 --in-interface eth2333 --goto cali-fh-eth2333', '-A cali-from-host-endpoint-2 --in-interface eth2444 --goto cali-fh-eth2444'],
    ['-A cali-from-host-endpoint --in-interface eth1234 --goto cali-fh-eth1234', '-A cali-from-host-endpoint --in-interface eth2+ --goto cali-from-host-endpoint-2'],
  ]);
  assert.deepEqual(renderHostDispatchChains(['eth0'], cfg, { directions: 'to' }).map(linesOf), [['-A cali-to-host-endpoint --out-interface eth0 --goto cali-th-eth0']]);
});

test('host endpoints with applyOnForward, and the all-interfaces endpoint as default', () => {
  const chains = renderHostDispatchChains(['eth0'], cfg, { applyOnForward: true, defaultIface: ALL_INTERFACES });
  assert.deepEqual(table(chains), ['cali-from-host-endpoint', 'cali-to-host-endpoint', 'cali-from-hep-forward', 'cali-to-hep-forward']);
  assert.deepEqual(linesOf(chains[1]!), ['-A cali-to-host-endpoint --out-interface eth0 --goto cali-th-eth0', '-A cali-to-host-endpoint --goto cali-th-any-interface-at-all']);
  assert.deepEqual(linesOf(chains[2]!), ['-A cali-from-hep-forward --in-interface eth0 --goto cali-fhfw-eth0', `-A cali-from-hep-forward --goto ${chains[2]!.rules[1]!.action[1]}`]);
  assert.match(chains[2]!.rules[1]!.action[1]!, /^cali-fhfw-_.{17}$/);
  // Without applyOnForward, host-to-workload traffic skips the default egress chain.
  const raw = renderHostDispatchChains(['eth0'], cfg, { defaultIface: ALL_INTERFACES });
  assert.deepEqual(table(raw), ['cali-from-host-endpoint', 'cali-to-host-endpoint']);
  assert.deepEqual(linesOf(raw[1]!), [
    '-A cali-to-host-endpoint --out-interface eth0 --goto cali-th-eth0',
    '-A cali-to-host-endpoint -m comment --comment "Skip egress WHEP policy for traffic to local workload" --out-interface cali+ --jump RETURN',
    '-A cali-to-host-endpoint -m comment --comment "Skip egress WHEP policy for traffic to local workload" --out-interface tap+ --jump RETURN',
    '-A cali-to-host-endpoint --goto cali-th-any-interface-at-all',
  ]);
});

test('IPVS endpoint-mark dispatch (marks from Felix dispatch tests)', () => {
  const c = cfgWith({ workloadIfacePrefixes: ['cali', 'tap'], marks: { accept: 0x8, pass: 0x10, drop: 0x80, scratch0: 0x20, scratch1: 0x40, wireguard: 0, endpoint: 0xff00, nonCaliEndpoint: 0x100 } });
  const mapper = new EndpointMarkMapper(0xff00, 0x100);
  const chains = renderEndpointMarkDispatchChains(['cali1234', 'cali2333', 'cali2444'], [], mapper, c);
  assert.deepEqual(table(chains), ['cali-set-endpoint-mark-2', 'cali-set-endpoint-mark', 'cali-from-endpoint-mark']);
  assert.deepEqual(chains.map(linesOf), [
    ['-A cali-set-endpoint-mark-2 --in-interface cali2333 --goto cali-sm-cali2333', '-A cali-set-endpoint-mark-2 --in-interface cali2444 --goto cali-sm-cali2444'],
    [
      '-A cali-set-endpoint-mark --in-interface cali1234 --goto cali-sm-cali1234',
      '-A cali-set-endpoint-mark --in-interface cali2+ --goto cali-set-endpoint-mark-2',
      '-A cali-set-endpoint-mark -m comment --comment "Unknown endpoint" --in-interface cali+ --jump DROP',
      '-A cali-set-endpoint-mark -m comment --comment "Unknown endpoint" --in-interface tap+ --jump DROP',
      '-A cali-set-endpoint-mark -m comment --comment "Non-Cali endpoint mark" --jump MARK --set-mark 0x100/0xff00',
    ],
    [
      '-A cali-from-endpoint-mark -m mark --mark 0xd400/0xff00 --goto cali-fw-cali1234',
      '-A cali-from-endpoint-mark -m mark --mark 0xa700/0xff00 --goto cali-fw-cali2333',
      '-A cali-from-endpoint-mark -m mark --mark 0x5200/0xff00 --goto cali-fw-cali2444',
      `-A cali-from-endpoint-mark ${UNKNOWN}`,
    ],
  ]);
});

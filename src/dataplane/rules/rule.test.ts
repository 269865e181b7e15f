import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IpVersion, ParsedRule } from '../../proto/policy.js';
import { renderAppend } from './chain.js';
import { limitNflogPrefix, logPrefixFor, renderParsedRule, type RuleContext } from './rule.js';
import { splitPortList } from './match.js';
import { cfgWith, gnp, np, parsedRule } from './test-helpers.js';

// Felix's own rule-rendering tests use accept 0x80, pass 0x100, scratch0 0x200, scratch1 0x400
// and no drop bit; with those, the expected strings below are Felix's documented ones.
const felixMarks = { accept: 0x80, pass: 0x100, drop: 0, scratch0: 0x200, scratch1: 0x400, wireguard: 0, endpoint: 0xff000, nonCaliEndpoint: 0 };
const cfg = cfgWith({ marks: felixMarks });

function ctx(ipVersion: IpVersion = 4, over: Partial<RuleContext> = {}): RuleContext {
  return { ipVersion, owner: { kind: 'policy', id: gnp('p') }, direction: 'ingress', index: 0, untracked: false, cfg, ...over };
}

function render(r: Partial<ParsedRule>, c: RuleContext = ctx()): string[] {
  return renderParsedRule(parsedRule(r), c).map((x) => renderAppend('test', x));
}

const ports = (...p: [number, number][]) => p.map(([first, last]) => ({ first, last }));
const eightRanges = ports([1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], [15, 16]);

const matchCases: [string, IpVersion, Partial<ParsedRule>, string][] = [
  ['empty rule', 4, {}, ''],
  ['protocol name', 4, { protocol: 'tcp' }, '-p tcp'],
  ['protocol number', 4, { protocol: 8 }, '-p 8'],
  ['source net', 4, { srcNets: ['10.0.0.0/16'] }, '--source 10.0.0.0/16'],
  ['source IP set', 4, { srcIpSetIds: ['ipsetid1'] }, '-m set --match-set cali40ipsetid1 src'],
  ['source IP sets', 4, { srcIpSetIds: ['ipsetid1', 'ipsetid2'] }, '-m set --match-set cali40ipsetid1 src -m set --match-set cali40ipsetid2 src'],
  ['source ports', 4, { srcPorts: ports([10, 12]) }, '-m multiport --source-ports 10:12'],
  ['source ports (multiple)', 4, { srcPorts: ports([10, 12], [20, 30], [8080, 8080]) }, '-m multiport --source-ports 10:12,20:30,8080'],
  ['ICMP', 4, { icmp: { type: 10 } }, '-m icmp --icmp-type 10'],
  ['ICMP with code', 4, { icmp: { type: 10, code: 12 } }, '-m icmp --icmp-type 10/12'],
  ['ICMPv6', 6, { icmp: { type: 10 } }, '-m icmp6 --icmpv6-type 10'],
  ['ICMPv6 with code', 6, { icmp: { type: 10, code: 12 } }, '-m icmp6 --icmpv6-type 10/12'],
  ['dest net', 4, { dstNets: ['10.0.0.0/16'] }, '--destination 10.0.0.0/16'],
  ['dest IP set', 4, { dstIpSetIds: ['ipsetid1'] }, '-m set --match-set cali40ipsetid1 dst'],
  ['dest ports (multiple)', 4, { dstPorts: ports([10, 12], [20, 30], [8080, 8080]) }, '-m multiport --destination-ports 10:12,20:30,8080'],
  ['not protocol name', 4, { notProtocol: 'tcp' }, '! -p tcp'],
  ['not protocol number', 4, { notProtocol: 8 }, '! -p 8'],
  ['not source net', 4, { notSrcNets: ['10.0.0.0/16'] }, '! --source 10.0.0.0/16'],
  ['not source IP set', 4, { notSrcIpSetIds: ['ipsetid1'] }, '-m set ! --match-set cali40ipsetid1 src'],
  ['not source IP set v6', 6, { notSrcIpSetIds: ['ipsetid1'] }, '-m set ! --match-set cali60ipsetid1 src'],
  ['not source ports', 4, { notSrcPorts: ports([10, 12]) }, '-m multiport ! --source-ports 10:12'],
  ['not source ports over 15 slots', 4, { notSrcPorts: eightRanges }, '-m multiport ! --source-ports 1:2,3:4,5:6,7:8,9:10,11:12,13:14 -m multiport ! --source-ports 15:16'],
  ['not ICMP', 4, { notIcmp: { type: 10 } }, '-m icmp ! --icmp-type 10'],
  ['not ICMP with code', 4, { notIcmp: { type: 10, code: 12 } }, '-m icmp ! --icmp-type 10/12'],
  ['not ICMPv6 with code', 6, { notIcmp: { type: 10, code: 12 } }, '-m icmp6 ! --icmpv6-type 10/12'],
  ['not dest net', 4, { notDstNets: ['10.0.0.0/16'] }, '! --destination 10.0.0.0/16'],
  ['not dest IP set v6', 6, { notDstIpSetIds: ['ipsetid1'] }, '-m set ! --match-set cali60ipsetid1 dst'],
  ['not dest ports over 15 slots', 4, { notDstPorts: eightRanges }, '-m multiport ! --destination-ports 1:2,3:4,5:6,7:8,9:10,11:12,13:14 -m multiport ! --destination-ports 15:16'],
  [
    'everything, in Felix order',
    4,
    {
      protocol: 'tcp',
      srcNets: ['10.0.0.0/8'],
      srcIpSetIds: ['a'],
      srcPorts: ports([1, 1]),
      dstNets: ['11.0.0.0/8'],
      dstIpSetIds: ['b'],
      dstNamedPortIpSetIds: ['np'],
      notSrcNets: [],
      notSrcIpSetIds: ['c'],
      notDstIpSetIds: ['d'],
      notDstPorts: ports([3, 3]),
    },
    '-p tcp --source 10.0.0.0/8 -m set --match-set cali40a src -m multiport --source-ports 1 --destination 11.0.0.0/8 -m set --match-set cali40b dst ' +
      '-m set --match-set cali40np dst,dst -m set ! --match-set cali40c src -m set ! --match-set cali40d dst -m multiport ! --destination-ports 3',
  ],
];

test('single-rule matches (Felix ruleTestData)', async (t) => {
  for (const [name, v, r, match] of matchCases) {
    await t.test(name, () => {
      const m = match === '' ? '' : ` ${match}`;
      assert.deepEqual(render(r, ctx(v)), [`-A test${m} --jump MARK --set-mark 0x80/0x80`, '-A test -m mark --mark 0x80/0x80 --jump RETURN']);
      assert.deepEqual(render({ ...r, action: 'pass' }, ctx(v)), [`-A test${m} --jump MARK --set-mark 0x100/0x100`, '-A test -m mark --mark 0x100/0x100 --jump RETURN']);
      assert.deepEqual(render({ ...r, action: 'deny' }, ctx(v)), [`-A test${m} --jump DROP`]);
      assert.deepEqual(render({ ...r, action: 'log' }, ctx(v)), [`-A test${m} --jump LOG --log-prefix "calico-packet: " --log-level 5`]);
    });
  }
});

test('deny sets the drop bit first when there is one; REJECT when configured', () => {
  const withDrop = cfgWith({ marks: { ...felixMarks, drop: 0x800 } });
  assert.deepEqual(render({ action: 'deny', protocol: 'udp' }, ctx(4, { cfg: withDrop })), [
    '-A test -p udp --jump MARK --set-mark 0x800/0x800',
    '-A test -m mark --mark 0x800/0x800 --jump DROP',
  ]);
  const reject = cfgWith({ marks: felixMarks, filterDenyAction: 'Reject' });
  assert.deepEqual(render({ action: 'deny' }, ctx(4, { cfg: reject })), ['-A test --jump REJECT']);
});

const CLEAR_BOTH = '-A test --jump MARK --set-mark 0x0/0x600';
const PRESET_ALL = '-A test --jump MARK --set-mark 0x200/0x600';
const ALLOW_IF_ALL = '-A test -m mark --mark 0x200/0x200 --jump MARK --set-mark 0x80/0x80';
const RETURN = '-A test -m mark --mark 0x80/0x80 --jump RETURN';
const AND_THIS_BLOCK = '-A test -m mark --mark 0/0x400 --jump MARK --set-mark 0/0x200';

test('CIDR blocks (Felix "CIDR split tests")', () => {
  const nets = (n: number, base: number) => [`${base}.0.0.0/24`, `${base}.0.1.0/24`].slice(0, n);
  const r = (s: number, ns: number, d: number, nd: number) => render({ srcNets: nets(s, 10), notSrcNets: nets(ns, 11), dstNets: nets(d, 12), notDstNets: nets(nd, 13) });
  assert.deepEqual(r(2, 0, 0, 0), [CLEAR_BOTH, '-A test --source 10.0.0.0/24 --jump MARK --set-mark 0x200/0x200', '-A test --source 10.0.1.0/24 --jump MARK --set-mark 0x200/0x200', ALLOW_IF_ALL, RETURN]);
  assert.deepEqual(r(0, 2, 0, 0), [PRESET_ALL, '-A test --source 11.0.0.0/24 --jump MARK --set-mark 0/0x200', '-A test --source 11.0.1.0/24 --jump MARK --set-mark 0/0x200', ALLOW_IF_ALL, RETURN]);
  assert.deepEqual(r(0, 0, 0, 2), [PRESET_ALL, '-A test --destination 13.0.0.0/24 --jump MARK --set-mark 0/0x200', '-A test --destination 13.0.1.0/24 --jump MARK --set-mark 0/0x200', ALLOW_IF_ALL, RETURN]);
  assert.deepEqual(r(1, 1, 0, 0), [PRESET_ALL, '-A test --source 11.0.0.0/24 --jump MARK --set-mark 0/0x200', '-A test --source 10.0.0.0/24 -m mark --mark 0x200/0x200 --jump MARK --set-mark 0x80/0x80', RETURN]);
  assert.deepEqual(r(2, 1, 0, 0), [
    CLEAR_BOTH,
    '-A test --source 10.0.0.0/24 --jump MARK --set-mark 0x200/0x200',
    '-A test --source 10.0.1.0/24 --jump MARK --set-mark 0x200/0x200',
    '-A test ! --source 11.0.0.0/24 -m mark --mark 0x200/0x200 --jump MARK --set-mark 0x80/0x80',
    RETURN,
  ]);
  assert.deepEqual(r(1, 1, 1, 1), [
    PRESET_ALL,
    '-A test --source 11.0.0.0/24 --jump MARK --set-mark 0/0x200',
    '-A test --destination 13.0.0.0/24 --jump MARK --set-mark 0/0x200',
    '-A test --source 10.0.0.0/24 --destination 12.0.0.0/24 -m mark --mark 0x200/0x200 --jump MARK --set-mark 0x80/0x80',
    RETURN,
  ]);
  assert.deepEqual(r(2, 2, 2, 2), [
    CLEAR_BOTH,
    '-A test --source 10.0.0.0/24 --jump MARK --set-mark 0x200/0x200',
    '-A test --source 10.0.1.0/24 --jump MARK --set-mark 0x200/0x200',
    '-A test --destination 12.0.0.0/24 --jump MARK --set-mark 0x400/0x400',
    '-A test --destination 12.0.1.0/24 --jump MARK --set-mark 0x400/0x400',
    AND_THIS_BLOCK,
    '-A test --source 11.0.0.0/24 --jump MARK --set-mark 0/0x200',
    '-A test --source 11.0.1.0/24 --jump MARK --set-mark 0/0x200',
    '-A test --destination 13.0.0.0/24 --jump MARK --set-mark 0/0x200',
    '-A test --destination 13.0.1.0/24 --jump MARK --set-mark 0/0x200',
    ALLOW_IF_ALL,
    RETURN,
  ]);
});

test('named ports and port blocks (Felix "Named port tests")', () => {
  const tcpAllow = '-A test -p tcp -m mark --mark 0x200/0x200 --jump MARK --set-mark 0x80/0x80';
  assert.deepEqual(render({ protocol: 'tcp', srcNamedPortIpSetIds: ['ipset-1'] }), ['-A test -p tcp -m set --match-set cali40ipset-1 src,src --jump MARK --set-mark 0x80/0x80', RETURN]);
  assert.deepEqual(render({ protocol: 'udp', srcNamedPortIpSetIds: ['ipset-1', 'ipset-2'] }), [
    CLEAR_BOTH,
    '-A test -m set --match-set cali40ipset-1 src,src --jump MARK --set-mark 0x200/0x200',
    '-A test -m set --match-set cali40ipset-2 src,src --jump MARK --set-mark 0x200/0x200',
    '-A test -p udp -m mark --mark 0x200/0x200 --jump MARK --set-mark 0x80/0x80',
    RETURN,
  ]);
  assert.deepEqual(render({ protocol: 'tcp', srcPorts: eightRanges, srcNamedPortIpSetIds: ['ipset-1', 'ipset-2', 'ipset-3'] }), [
    CLEAR_BOTH,
    '-A test -p tcp -m multiport --source-ports 1:2,3:4,5:6,7:8,9:10,11:12,13:14 --jump MARK --set-mark 0x200/0x200',
    '-A test -p tcp -m multiport --source-ports 15:16 --jump MARK --set-mark 0x200/0x200',
    '-A test -m set --match-set cali40ipset-1 src,src --jump MARK --set-mark 0x200/0x200',
    '-A test -m set --match-set cali40ipset-2 src,src --jump MARK --set-mark 0x200/0x200',
    '-A test -m set --match-set cali40ipset-3 src,src --jump MARK --set-mark 0x200/0x200',
    tcpAllow,
    RETURN,
  ]);
  assert.deepEqual(render({ protocol: 'tcp', srcPorts: ports([1, 2]), dstPorts: ports([3, 4]), dstNamedPortIpSetIds: ['ipset-1'] }), [
    CLEAR_BOTH,
    '-A test -p tcp -m multiport --destination-ports 3:4 --jump MARK --set-mark 0x200/0x200',
    '-A test -m set --match-set cali40ipset-1 dst,dst --jump MARK --set-mark 0x200/0x200',
    '-A test -p tcp -m multiport --source-ports 1:2 -m mark --mark 0x200/0x200 --jump MARK --set-mark 0x80/0x80',
    RETURN,
  ]);
  assert.deepEqual(render({ protocol: 'tcp', srcPorts: ports([1, 2]), srcNamedPortIpSetIds: ['ipset-1'], dstPorts: ports([3, 4]), dstNamedPortIpSetIds: ['ipset-2'] }), [
    CLEAR_BOTH,
    '-A test -p tcp -m multiport --source-ports 1:2 --jump MARK --set-mark 0x200/0x200',
    '-A test -m set --match-set cali40ipset-1 src,src --jump MARK --set-mark 0x200/0x200',
    '-A test -p tcp -m multiport --destination-ports 3:4 --jump MARK --set-mark 0x400/0x400',
    '-A test -m set --match-set cali40ipset-2 dst,dst --jump MARK --set-mark 0x400/0x400',
    AND_THIS_BLOCK,
    tcpAllow,
    RETURN,
  ]);
  assert.deepEqual(render({ protocol: 'tcp', notSrcPorts: eightRanges, notSrcNamedPortIpSetIds: ['ipset-1', 'ipset-2'] }), [
    '-A test -p tcp -m multiport ! --source-ports 1:2,3:4,5:6,7:8,9:10,11:12,13:14 -m multiport ! --source-ports 15:16 ' +
      '-m set ! --match-set cali40ipset-1 src,src -m set ! --match-set cali40ipset-2 src,src --jump MARK --set-mark 0x80/0x80',
    RETURN,
  ]);
  assert.deepEqual(render({ protocol: 'tcp', srcPorts: eightRanges, srcNamedPortIpSetIds: ['ipset-1', 'ipset-2', 'ipset-3'], srcNets: ['10.1.0.0/16', '11.0.0.0/8'] }), [
    CLEAR_BOTH,
    '-A test -p tcp -m multiport --source-ports 1:2,3:4,5:6,7:8,9:10,11:12,13:14 --jump MARK --set-mark 0x200/0x200',
    '-A test -p tcp -m multiport --source-ports 15:16 --jump MARK --set-mark 0x200/0x200',
    '-A test -m set --match-set cali40ipset-1 src,src --jump MARK --set-mark 0x200/0x200',
    '-A test -m set --match-set cali40ipset-2 src,src --jump MARK --set-mark 0x200/0x200',
    '-A test -m set --match-set cali40ipset-3 src,src --jump MARK --set-mark 0x200/0x200',
    '-A test --source 10.1.0.0/16 --jump MARK --set-mark 0x400/0x400',
    '-A test --source 11.0.0.0/8 --jump MARK --set-mark 0x400/0x400',
    AND_THIS_BLOCK,
    tcpAllow,
    RETURN,
  ]);
});

test('multiport splits at 15 slots, a range taking two', () => {
  const singles = Array.from({ length: 16 }, (_, i) => ({ first: i + 1, last: i + 1 }));
  assert.deepEqual(splitPortList(singles).map((s) => s.length), [15, 1]);
  assert.deepEqual(splitPortList([...ports([1, 2]).concat(singles.slice(0, 13)), { first: 100, last: 100 }]).map((s) => s.length), [14, 1]);
  assert.deepEqual(splitPortList([]), []);
});

test('IP version filtering', () => {
  assert.deepEqual(render({ ipVersion: 6 }, ctx(4)), []);
  assert.equal(render({ ipVersion: 6 }, ctx(6)).length, 2);
  // Nets of the other family are dropped; a list left empty drops the rule.
  assert.deepEqual(render({ srcNets: ['10.0.0.1/32', 'feed::beef/128'] }, ctx(6))[0], '-A test --source feed::beef/128 --jump MARK --set-mark 0x80/0x80');
  assert.deepEqual(render({ srcNets: ['10.0.0.1/32'], dstNets: ['feed::1/128'] }, ctx(4)), []);
  assert.deepEqual(render({ notSrcNets: ['feed::/64'] }, ctx(4)), []);
  // A negated catch-all can never match.
  assert.deepEqual(render({ notDstNets: ['0.0.0.0/0'] }, ctx(4)), []);
  assert.deepEqual(render({ notDstNets: ['::/0', '10.0.0.0/8'] }, ctx(4)).length, 2);
});

test('annotations become comments on every rule of the expansion, sorted by key', () => {
  assert.deepEqual(render({ srcNets: ['10.0.0.0/8', '11.0.0.0/8'], annotations: { zone: 'b', app: 'web' } }), [
    '-A test -m comment --comment "app=web" -m comment --comment "zone=b" --jump MARK --set-mark 0x0/0x600',
    '-A test -m comment --comment "app=web" -m comment --comment "zone=b" --source 10.0.0.0/8 --jump MARK --set-mark 0x200/0x200',
    '-A test -m comment --comment "app=web" -m comment --comment "zone=b" --source 11.0.0.0/8 --jump MARK --set-mark 0x200/0x200',
    '-A test -m comment --comment "app=web" -m comment --comment "zone=b" -m mark --mark 0x200/0x200 --jump MARK --set-mark 0x80/0x80',
    '-A test -m comment --comment "app=web" -m comment --comment "zone=b" -m mark --mark 0x80/0x80 --jump RETURN',
  ]);
});

test('log prefixes: template fields', () => {
  assert.equal(logPrefixFor('calico-packet', { kind: 'policy', id: gnp('x') }), 'calico-packet');
  assert.equal(logPrefixFor('%t|%k|%n|%p', { kind: 'policy', id: np('prod', 'web', 'security') }), 'security|np|web|prod/web');
  assert.equal(logPrefixFor('%k %p %t.', { kind: 'profile', id: 'kns.prod' }), 'pro kns.prod .');
  const c = cfgWith({ marks: felixMarks, logPrefix: 'drop-%n' });
  assert.deepEqual(render({ action: 'log' }, ctx(4, { cfg: c })), ['-A test --jump LOG --log-prefix "drop-p: " --log-level 5']);
});

test('flow logs: NFLOG after the verdict mark, with the rule index and policy id', () => {
  const fl = cfgWith({ marks: felixMarks, flowLogsEnabled: true });
  assert.deepEqual(render({ protocol: 6, dstPorts: ports([5443, 5443]) }, ctx(4, { cfg: fl, owner: { kind: 'policy', id: np('calico-system', 'allow-apiserver') }, index: 0 })), [
    '-A test -p 6 -m multiport --destination-ports 5443 --jump MARK --set-mark 0x80/0x80',
    '-A test -m mark --mark 0x80/0x80 --jump NFLOG --nflog-group 1 --nflog-prefix API0|np/calico-system/allow-apiserver --nflog-size 80',
    RETURN,
  ]);
  assert.deepEqual(render({ action: 'pass' }, ctx(4, { cfg: fl, owner: { kind: 'profile', id: 'kns.x' }, direction: 'egress', index: 3 })), [
    '-A test --jump MARK --set-mark 0x100/0x100',
    '-A test -m mark --mark 0x100/0x100 --jump NFLOG --nflog-group 2 --nflog-prefix PRE3|kns.x --nflog-size 80',
    '-A test -m mark --mark 0x100/0x100 --jump RETURN',
  ]);
  // Not for untracked policy; and --nflog-range on old iptables.
  assert.equal(render({}, ctx(4, { cfg: fl, untracked: true })).length, 2);
  const old = cfgWith({ marks: felixMarks, flowLogsEnabled: true, features: { nflogSize: false } });
  assert.match(render({}, ctx(4, { cfg: old }))[1]!, /--nflog-range 80$/);
});

test('long NFLOG prefixes keep 10 characters at each end around a hash', () => {
  const p = 'API12|np/some-very-long-namespace-name/and-an-even-longer-policy-name-here';
  const out = limitNflogPrefix(p);
  assert.equal(out.length, 63);
  assert.equal(out.slice(0, 11), 'API12|np/s_');
  assert.equal(out.slice(-11), '_-name-here');
  assert.equal(limitNflogPrefix('ARI0|kns.mealie'), 'ARI0|kns.mealie');
});

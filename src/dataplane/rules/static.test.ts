import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chainHashes, appendedRuleHashes } from './hash.js';
import { IptablesRuleRenderer, programmedChains } from './index.js';
import { renderCidrBlockChain, renderFloatingIpChains, renderNatOutgoingChain, renderRpfSkipChain } from './nat.js';
import { renderStaticChains } from './static-tables.js';
import { cfgWith, linesOf } from './test-helpers.js';
import type { Chain } from './chain.js';

const byName = (chains: readonly Chain[], name: string): Chain => {
  const c = chains.find((x) => x.name === name);
  assert.ok(c, `no chain ${name}`);
  return c;
};

test('filter chains of a real node (Felix before the drop bit: accept 0x10000 ... scratch1 0x80000), hashes observed', () => {
  const old = cfgWith({
    marks: { accept: 0x10000, pass: 0x20000, drop: 0, scratch0: 0x40000, scratch1: 0x80000, wireguard: 0, endpoint: 0xfff00000, nonCaliEndpoint: 0 },
    defaultEndpointToHostAction: 'Accept',
  });
  const t = renderStaticChains(4, old);
  assert.deepEqual(chainHashes(byName(t.filter, 'cali-INPUT')), ['FewJpBykm9iJ-YNH', 'hder3ARWznqqv8Va', 'xgOu2uJft6H9oDGF', '_-d-qojMfHM6NwBo', 'LqmE76MP94lZTGhA']);
  assert.deepEqual(chainHashes(byName(t.filter, 'cali-OUTPUT')), ['Mq1_rAdXXH3YkrzW', '69FkRTJDvD5Vu6Vl', 'Fskumj4SGQtDV6GC', '1F4VWEsQu0QbRwKf', 'm8Eqm15x1MjD24LD']);
  assert.deepEqual(chainHashes(byName(t.filter, 'cali-FORWARD')), ['vjrMJCRpqwy5oRoX', 'A_sPAO0mcxbT9mOV', '8ZoYfO5HKXWbB3pk', 'jdEuaPBe14V2hutn', '12bc6HljsMKsmfr-', 'NOSxoaGx8OIstr1z']);
  assert.deepEqual(chainHashes(byName(t.filter, 'cali-wl-to-host')), ['Ee9Sbo10IpVujdIY', 'nSZbcOoG1xPONxb8']);
  const forwardAppends = t.hooks.find((h) => h.chain === 'FORWARD' && h.mode === 'append')!;
  assert.deepEqual(appendedRuleHashes('FORWARD', forwardAppends.rules), ['S93hcgKJrXEqnTfs', 'mp77cMpurHhyjLrM']);
});

test('cali-INPUT and cali-OUTPUT with IPIP and VXLAN (default marks)', () => {
  const cfg = cfgWith({ ipipEnabled: true, vxlanEnabled: true, ipipTunnelAddress: '10.244.1.0' });
  const t = renderStaticChains(4, cfg);
  assert.deepEqual(linesOf(byName(t.filter, 'cali-INPUT')), [
    '-A cali-INPUT -m comment --comment "Allow IPIP packets from Calico hosts" -p 4 -m set --match-set cali40all-hosts-net src -m addrtype --dst-type LOCAL --jump ACCEPT',
    '-A cali-INPUT -m comment --comment "Drop IPIP packets from non-Calico hosts" -p 4 --jump DROP',
    '-A cali-INPUT -m comment --comment "Allow IPv4 VXLAN packets from allowed hosts" -p 17 -m multiport --destination-ports 4789 -m set --match-set cali40all-vxlan-net src -m addrtype --dst-type LOCAL --jump ACCEPT',
    '-A cali-INPUT -m comment --comment "Drop IPv4 VXLAN packets from non-allowed hosts" -p 17 -m multiport --destination-ports 4789 -m addrtype --dst-type LOCAL --jump DROP',
    '-A cali-INPUT --in-interface cali+ --goto cali-wl-to-host',
    '-A cali-INPUT -m mark --mark 0x10000/0x10000 --jump ACCEPT',
    '-A cali-INPUT --jump MARK --set-mark 0/0x1b0000',
    '-A cali-INPUT --jump cali-from-host-endpoint',
    '-A cali-INPUT -m comment --comment "Host endpoint policy accepted packet." -m mark --mark 0x10000/0x10000 --jump ACCEPT',
  ]);
  assert.deepEqual(linesOf(byName(t.filter, 'cali-OUTPUT')), [
    '-A cali-OUTPUT -m mark --mark 0x10000/0x10000 --jump ACCEPT',
    '-A cali-OUTPUT --out-interface cali+ --jump RETURN',
    '-A cali-OUTPUT -m comment --comment "Allow IPIP packets to other Calico hosts" -p 4 -m set --match-set cali40all-hosts-net dst -m addrtype --src-type LOCAL --jump ACCEPT',
    '-A cali-OUTPUT -m comment --comment "Allow IPv4 VXLAN packets to other allowed hosts" -p 17 -m multiport --destination-ports 4789 -m addrtype --src-type LOCAL -m set --match-set cali40all-vxlan-net dst --jump ACCEPT',
    '-A cali-OUTPUT --jump MARK --set-mark 0/0x1b0000',
    '-A cali-OUTPUT -m conntrack ! --ctstate DNAT --jump cali-to-host-endpoint',
    '-A cali-OUTPUT -m comment --comment "Host endpoint policy accepted packet." -m mark --mark 0x10000/0x10000 --jump ACCEPT',
  ]);
  assert.deepEqual(linesOf(byName(t.nat, 'cali-POSTROUTING')), [
    '-A cali-POSTROUTING --jump cali-fip-snat',
    '-A cali-POSTROUTING --jump cali-nat-outgoing',
    '-A cali-POSTROUTING --out-interface tunl0 -m addrtype ! --src-type LOCAL --limit-iface-out -m addrtype --src-type LOCAL --jump MASQUERADE --random-fully',
  ]);
});

test('IPv6: ICMPv6 for routing before workload egress policy; WireGuard and VXLAN rules', () => {
  const cfg = cfgWith({ vxlanEnabledV6: true, wireguardEnabledV6: true, wireguardHostEncryptionEnabled: true, defaultEndpointToHostAction: 'Return' });
  const t = renderStaticChains(6, cfg);
  assert.deepEqual(linesOf(byName(t.filter, 'cali-wl-to-host')), [
    ...[130, 131, 132, 133, 135, 136].map((n) => `-A cali-wl-to-host -p 58 -m icmp6 --icmpv6-type ${n} --jump ACCEPT`),
    '-A cali-wl-to-host --jump cali-from-wl-dispatch',
    '-A cali-wl-to-host -m comment --comment "Configured DefaultEndpointToHostAction" --jump RETURN',
  ]);
  assert.deepEqual(linesOf(byName(t.filter, 'cali-INPUT')).slice(0, 3), [
    '-A cali-INPUT -m comment --comment "Allow IPv6 VXLAN packets from allowed hosts" -p 17 -m multiport --destination-ports 4789 -m set --match-set cali60all-vxlan-net src -m addrtype --dst-type LOCAL --jump ACCEPT',
    '-A cali-INPUT -m comment --comment "Drop IPv6 VXLAN packets from non-allowed hosts" -p 17 -m multiport --destination-ports 4789 -m addrtype --dst-type LOCAL --jump DROP',
    '-A cali-INPUT -m comment --comment "Allow incoming IPv6 Wireguard packets" -p 17 -m multiport --destination-ports 51821 -m addrtype --dst-type LOCAL --jump ACCEPT',
  ]);
  // WireGuard takes mark 0x200000; accept|pass|scratch0|scratch1 is still 0x1b0000.
  assert.deepEqual(linesOf(byName(t.raw, 'cali-PREROUTING')), [
    '-A cali-PREROUTING --jump MARK --set-mark 0/0x1b0000',
    '-A cali-PREROUTING --jump cali-wireguard-incoming-mark',
    '-A cali-PREROUTING -p udp --dport 4789 --jump NOTRACK',
    '-A cali-PREROUTING --in-interface cali+ --jump MARK --set-mark 0x80000/0x80000',
    '-A cali-PREROUTING -m mark --mark 0x80000/0x80000 --jump cali-rpf-skip',
    '-A cali-PREROUTING -m mark --mark 0x80000/0x80000 -m rpfilter --invert --validmark --jump DROP',
    '-A cali-PREROUTING -m mark --mark 0/0x80000 --jump cali-from-host-endpoint',
    '-A cali-PREROUTING -m mark --mark 0x10000/0x10000 --jump ACCEPT',
  ]);
  assert.deepEqual(linesOf(byName(t.raw, 'cali-wireguard-incoming-mark')), [
    '-A cali-wireguard-incoming-mark --in-interface lo --jump RETURN',
    '-A cali-wireguard-incoming-mark --in-interface wireguard.cali --jump RETURN',
    '-A cali-wireguard-incoming-mark --in-interface wg-v6.cali --jump RETURN',
    '-A cali-wireguard-incoming-mark --in-interface cali+ --jump RETURN',
    '-A cali-wireguard-incoming-mark --jump MARK --set-mark 0x200000/0x200000',
  ]);
  assert.deepEqual(linesOf(byName(t.raw, 'cali-OUTPUT')), [
    '-A cali-OUTPUT --jump MARK --set-mark 0/0x1b0000',
    '-A cali-OUTPUT --jump cali-to-host-endpoint',
    '-A cali-OUTPUT -p udp --dport 4789 --jump NOTRACK',
    '-A cali-OUTPUT -m mark --mark 0x10000/0x10000 --jump ACCEPT',
  ]);
  assert.deepEqual(linesOf(byName(t.nat, 'cali-POSTROUTING')).at(-1), '-A cali-POSTROUTING --out-interface wg-v6.cali -m addrtype ! --src-type LOCAL --limit-iface-out -m addrtype --src-type LOCAL --jump MASQUERADE --random-fully');
});

test('failsafe chains: ports per family; the raw copies also admit replies', () => {
  const cfg = cfgWith({
    failsafeInboundHostPorts: [{ protocol: 'tcp', port: 22 }, { protocol: 'tcp', port: 6443, net: '10.0.0.0/8' }, { protocol: 'tcp', port: 6443, net: 'fd00::/8' }],
    failsafeOutboundHostPorts: [{ protocol: 'udp', port: 53 }],
  });
  const t = renderStaticChains(4, cfg);
  assert.deepEqual(linesOf(byName(t.filter, 'cali-failsafe-in')), [
    '-A cali-failsafe-in -p tcp -m multiport --destination-ports 22 --jump ACCEPT',
    '-A cali-failsafe-in -p tcp -m multiport --destination-ports 6443 --source 10.0.0.0/8 --jump ACCEPT',
  ]);
  assert.deepEqual(linesOf(byName(t.raw, 'cali-failsafe-in')), [
    '-A cali-failsafe-in -p tcp -m multiport --destination-ports 22 --jump ACCEPT',
    '-A cali-failsafe-in -p tcp -m multiport --destination-ports 6443 --source 10.0.0.0/8 --jump ACCEPT',
    '-A cali-failsafe-in -p udp -m multiport --source-ports 53 --jump ACCEPT',
  ]);
  assert.deepEqual(linesOf(byName(t.raw, 'cali-failsafe-out')), [
    '-A cali-failsafe-out -p udp -m multiport --destination-ports 53 --jump ACCEPT',
    '-A cali-failsafe-out -p tcp -m multiport --source-ports 22 --jump ACCEPT',
    '-A cali-failsafe-out -p tcp -m multiport --source-ports 6443 --destination 10.0.0.0/8 --jump ACCEPT',
  ]);
  assert.deepEqual(linesOf(byName(renderStaticChains(6, cfg).mangle, 'cali-failsafe-in')), [
    '-A cali-failsafe-in -p tcp -m multiport --destination-ports 22 --jump ACCEPT',
    '-A cali-failsafe-in -p tcp -m multiport --destination-ports 6443 --source fd00::/8 --jump ACCEPT',
  ]);
});

test('mangle chains', () => {
  const t = renderStaticChains(4, cfgWith({ mangleAllowAction: 'Return' }));
  assert.deepEqual(t.mangle.map((c) => c.name), ['cali-failsafe-in', 'cali-failsafe-out', 'cali-PREROUTING', 'cali-POSTROUTING']);
  assert.deepEqual(linesOf(byName(t.mangle, 'cali-PREROUTING')), [
    '-A cali-PREROUTING -m conntrack --ctstate RELATED,ESTABLISHED --jump RETURN',
    '-A cali-PREROUTING -m mark --mark 0x10000/0x10000 --jump RETURN',
    '-A cali-PREROUTING --jump cali-from-host-endpoint',
    '-A cali-PREROUTING -m comment --comment "Host endpoint policy accepted packet." -m mark --mark 0x10000/0x10000 --jump RETURN',
  ]);
  assert.deepEqual(linesOf(byName(t.mangle, 'cali-POSTROUTING')), [
    '-A cali-POSTROUTING -m mark --mark 0x10000/0x10000 --jump RETURN',
    '-A cali-POSTROUTING --jump MARK --set-mark 0/0x1b0000',
    '-A cali-POSTROUTING -m conntrack --ctstate DNAT --jump cali-to-host-endpoint',
    '-A cali-POSTROUTING -m comment --comment "Host endpoint policy accepted packet." -m mark --mark 0x10000/0x10000 --jump RETURN',
  ]);
});

test('kube-proxy IPVS: forward check in INPUT, endpoint-mark dispatch in OUTPUT', () => {
  const cfg = cfgWith({ kubeIpvsSupportEnabled: true });
  const t = renderStaticChains(4, cfg);
  assert.deepEqual(t.filter.map((c) => c.name), ['cali-FORWARD', 'cali-INPUT', 'cali-wl-to-host', 'cali-failsafe-in', 'cali-forward-check', 'cali-OUTPUT', 'cali-failsafe-out', 'cali-forward-endpoint-mark']);
  assert.deepEqual(linesOf(byName(t.filter, 'cali-INPUT')).slice(0, 3), [
    '-A cali-INPUT --jump MARK --set-mark 0/0xffe00000',
    '-A cali-INPUT --jump cali-forward-check',
    '-A cali-INPUT -m mark ! --mark 0/0xffe00000 --jump RETURN',
  ]);
  assert.deepEqual(linesOf(byName(t.filter, 'cali-forward-check')), [
    '-A cali-forward-check -m conntrack --ctstate RELATED,ESTABLISHED --jump RETURN',
    '-A cali-forward-check -m comment --comment "To kubernetes NodePort service" -p tcp -m multiport --destination-ports 30000:32767 -m set --match-set cali40this-host dst --goto cali-set-endpoint-mark',
    '-A cali-forward-check -m comment --comment "To kubernetes NodePort service" -p udp -m multiport --destination-ports 30000:32767 -m set --match-set cali40this-host dst --goto cali-set-endpoint-mark',
    '-A cali-forward-check -m comment --comment "To kubernetes service" -m set ! --match-set cali40this-host dst --jump cali-set-endpoint-mark',
  ]);
  assert.deepEqual(linesOf(byName(t.filter, 'cali-forward-endpoint-mark')), [
    '-A cali-forward-endpoint-mark -m mark ! --mark 0x200000/0xffe00000 --jump cali-from-endpoint-mark',
    '-A cali-forward-endpoint-mark --out-interface cali+ --jump cali-to-wl-dispatch',
    '-A cali-forward-endpoint-mark --jump cali-to-hep-forward',
    '-A cali-forward-endpoint-mark --jump MARK --set-mark 0/0xffe00000',
    '-A cali-forward-endpoint-mark -m comment --comment "Policy explicitly accepted packet." -m mark --mark 0x10000/0x10000 --jump ACCEPT',
  ]);
  assert.equal(linesOf(byName(t.filter, 'cali-OUTPUT'))[1], '-A cali-OUTPUT -m mark ! --mark 0/0xffe00000 --goto cali-forward-endpoint-mark');
  assert.equal(linesOf(byName(t.mangle, 'cali-POSTROUTING'))[1], '-A cali-POSTROUTING -m mark ! --mark 0/0xffe00000 --jump RETURN');
});

test('hooks: which built-in chains, inserted or appended', () => {
  const hooks = renderStaticChains(4, cfgWith()).hooks.map((h) => `${h.table} ${h.chain} ${h.mode} ${h.rules.map((r) => r.action.join(' ')).join(' | ')}`);
  assert.deepEqual(hooks, [
    'raw PREROUTING insert-or-append --jump cali-PREROUTING',
    'raw OUTPUT insert-or-append --jump cali-OUTPUT',
    'filter FORWARD insert-or-append --jump cali-FORWARD',
    'filter INPUT insert-or-append --jump cali-INPUT',
    'filter OUTPUT insert-or-append --jump cali-OUTPUT',
    'filter FORWARD append --jump ACCEPT | --jump MARK --set-mark 0x10000/0x10000',
    'nat PREROUTING insert-or-append --jump cali-PREROUTING',
    'nat POSTROUTING append --jump cali-POSTROUTING',
    'nat OUTPUT insert-or-append --jump cali-OUTPUT',
    'mangle PREROUTING insert-or-append --jump cali-PREROUTING',
    'mangle POSTROUTING insert-or-append --jump cali-POSTROUTING',
  ]);
});

test('nat-outgoing: MASQUERADE from masq pools to outside all pools', () => {
  const cfg = cfgWith();
  assert.deepEqual(linesOf(renderNatOutgoingChain(false, 4, cfg)), []);
  assert.deepEqual(linesOf(renderNatOutgoingChain(true, 4, cfg)), [
    '-A cali-nat-outgoing -m set --match-set cali40masq-ipam-pools src -m set ! --match-set cali40all-ipam-pools dst --jump MASQUERADE --random-fully',
  ]);
  const old = cfgWith({ features: { masqFullyRandom: false }, natOutgoingExclusions: 'IPPoolsAndHostIPs', natOutgoingInterfaceFilter: 'eth0' });
  assert.deepEqual(linesOf(renderNatOutgoingChain(true, 6, old)), [
    '-A cali-nat-outgoing -m set --match-set cali60masq-ipam-pools src -m set ! --match-set cali60all-ipam-pools dst -m set ! --match-set cali60all-hosts-net dst --out-interface eth0 --jump MASQUERADE',
  ]);
  const ranged = cfgWith({ natPortRange: { first: 40000, last: 50000 } });
  const m = '-m set --match-set cali40masq-ipam-pools src -m set ! --match-set cali40all-ipam-pools dst';
  assert.deepEqual(linesOf(renderNatOutgoingChain(true, 4, ranged)), [
    `-A cali-nat-outgoing ${m} -p tcp --jump MASQUERADE --to-ports 40000-50000 --random-fully`,
    `-A cali-nat-outgoing ${m} -p tcp --jump RETURN`,
    `-A cali-nat-outgoing ${m} -p udp --jump MASQUERADE --to-ports 40000-50000 --random-fully`,
    `-A cali-nat-outgoing ${m} -p udp --jump RETURN`,
    `-A cali-nat-outgoing ${m} --jump MASQUERADE --random-fully`,
  ]);
  const snat = cfgWith({ natOutgoingAddress: '192.0.2.1', natPortRange: { first: 40000, last: 50000 }, features: { snatFullyRandom: false } });
  assert.deepEqual(linesOf(renderNatOutgoingChain(true, 4, snat)).map((l) => l.slice(l.indexOf('--jump'))), [
    '--jump SNAT --to-source 192.0.2.1:40000-50000',
    '--jump RETURN',
    '--jump SNAT --to-source 192.0.2.1:40000-50000',
    '--jump RETURN',
    '--jump SNAT --to-source 192.0.2.1',
  ]);
});

test('cidr-block, floating IPs, rpf-skip', () => {
  const cfg = cfgWith();
  assert.deepEqual(linesOf(renderCidrBlockChain(['10.96.0.0/12', 'fd00:96::/108', '10.0.0.0/24'], 4, cfg)), [
    '-A cali-cidr-block --destination 10.0.0.0/24 --jump DROP',
    '-A cali-cidr-block --destination 10.96.0.0/12 --jump DROP',
  ]);
  assert.deepEqual(linesOf(renderCidrBlockChain(['10.0.0.0/24'], 4, cfgWith({ serviceLoopPrevention: 'Disabled' }))), []);
  const [dnat, snat] = renderFloatingIpChains(new Map([['172.16.0.2', '10.0.0.2'], ['172.16.0.1', '10.0.0.1']]), new Map([['10.0.0.1', '172.16.0.1']]), cfg);
  assert.deepEqual(linesOf(dnat!), [
    '-A cali-fip-dnat --destination 172.16.0.1 --jump DNAT --to-destination 10.0.0.1',
    '-A cali-fip-dnat --destination 172.16.0.2 --jump DNAT --to-destination 10.0.0.2',
  ]);
  assert.deepEqual(linesOf(snat!), ['-A cali-fip-snat --destination 10.0.0.1 --source 10.0.0.1 --jump SNAT --to-source 172.16.0.1 --random-fully']);
  assert.deepEqual(linesOf(renderRpfSkipChain([{ iface: 'cali1', cidr: '10.1.0.0/16' }, { iface: 'cali1', cidr: 'fd00::/64' }], 4)), [
    '-A cali-rpf-skip --in-interface cali1 --source 10.1.0.0/16 --jump ACCEPT',
  ]);
});

test('only referenced chains are programmed, as Felix does', () => {
  const r = new IptablesRuleRenderer();
  const t = r.staticChains(4);
  assert.deepEqual(programmedChains(t.filter, t.hooks).map((c) => c.name), ['cali-FORWARD', 'cali-INPUT', 'cali-wl-to-host', 'cali-OUTPUT']);
  assert.deepEqual(programmedChains(t.raw, t.hooks).map((c) => c.name), ['cali-PREROUTING', 'cali-OUTPUT']);
  const hep = r.hostEndpointChains('eth0', { name: 'eth0', profileIds: [], tiers: [], untrackedTiers: [], preDnatTiers: [], forwardTiers: [], expectedIpv4Addrs: [], expectedIpv6Addrs: [] }, 4).filter;
  // Host endpoint chains nothing dispatches to are not programmed, and neither are the failsafe
  // chains only they jump to (reachability from the hooks, as current Felix counts references).
  assert.deepEqual(programmedChains([...t.filter, ...hep], t.hooks).map((c) => c.name), ['cali-FORWARD', 'cali-INPUT', 'cali-wl-to-host', 'cali-OUTPUT']);
  const dispatch = r.hostDispatchChains(['eth0'], 4, { applyOnForward: true });
  const names = programmedChains([...t.filter, ...hep, ...dispatch], t.hooks).map((c) => c.name);
  for (const n of ['cali-failsafe-in', 'cali-failsafe-out', 'cali-th-eth0', 'cali-fh-eth0', 'cali-from-host-endpoint', 'cali-to-host-endpoint']) assert.ok(names.includes(n), n);
});

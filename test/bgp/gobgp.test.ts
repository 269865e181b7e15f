/**
 * tortie's speaker against real GoBGP 3.10: eBGP over IPv4 with tortie passive, iBGP over IPv6
 * with tortie active (GoBGP passive), prefixes both ways in both families, withdrawals, and
 * GoBGP's own view (`gobgp global rib`, `gobgp neighbor`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../src/lab/exec.js';
import { controlCall } from '../../src/agent/control.js';
import { BgpLab, requireRoot, speakerYaml } from './lab.js';
import type { PeerStatus } from '../../src/bgp/speaker.js';

requireRoot();

const lab = new BgpLab('gobgp');
before(async () => lab.up(['t', 'g']));
after(async () => lab.down());

async function has(control: string, prefix: string): Promise<boolean> {
  const r = (await controlCall<{ routes: { paths: { best: boolean }[] }[] }>(control, 'bgp.routes', { prefix })).routes;
  return r.length > 0 && r[0]!.paths.some((p) => p.best);
}

test('GoBGP: eBGP over IPv4 (tortie passive) and iBGP over IPv6 (tortie active), routes both ways, withdrawals', async () => {
  const T = lab.v4('t');
  const T6 = lab.v6('t');
  const g = await lab.gobgp(
    'g',
    `[global.config]
  as = 64513
  router-id = "${lab.v4('g')}"
  port = 179
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${T}"
    peer-as = 64512
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${T6}"
    peer-as = 64512
    local-as = 64512
  [neighbors.transport.config]
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
`,
  );
  const sp = lab.tortie(
    't',
    speakerYaml({
      routerId: T,
      asn: 64512,
      peers: [
        { address: lab.v4('g'), asNumber: 64513, passive: true },
        { address: lab.v6('g'), asNumber: 64512 },
      ],
      announce: [{ prefix: '10.65.0.0/26', communities: ['64512:7'] }, { prefix: 'fd00:65::/64' }],
    }),
  );
  try {
    await g.cli('global rib add 10.66.0.0/24 -a ipv4');
    await g.cli('global rib add fd00:66::/64 -a ipv6');
    await waitFor(async () => (await controlCall<{ peers: PeerStatus[] }>(sp.control, 'bgp.peers')).peers.every((p) => p.state === 'Established'), {
      timeoutMs: 40_000,
      what: `both GoBGP sessions Established (log ${sp.log}, gobgpd log ${g.log})`,
    });
    const neigh = await g.cli('neighbor');
    assert.match(neigh, new RegExp(`${T.replaceAll('.', '\\.')}\\s+64512\\s+\\S+\\s+Establ`));
    // GoBGP's view of what we sent.
    const v4 = await waitFor(async () => {
      const s = await g.cli('global rib -a ipv4');
      return /10\.65\.0\.0\/26/.test(s) && s;
    }, { timeoutMs: 10_000, what: 'GoBGP has 10.65.0.0/26' });
    assert.match(v4, /10\.65\.0\.0\/26\s+198\.18\.100\.1\s+64512/);
    assert.match(await g.cli('global rib -a ipv4 10.65.0.0/26 -j'), /"communities":\[4227858439\]/);
    const v6 = await waitFor(async () => {
      const s = await g.cli('global rib -a ipv6');
      return /fd00:65::\/64/.test(s) && s;
    }, { timeoutMs: 10_000, what: 'GoBGP has fd00:65::/64' });
    assert.match(v6, new RegExp(`fd00:65::/64\\s+${T6}`));
    // What GoBGP sent reached our RIB.
    await waitFor(() => has(sp.control, '10.66.0.0/24'), { timeoutMs: 10_000, what: 'tortie has 10.66.0.0/24' });
    await waitFor(() => has(sp.control, 'fd00:66::/64'), { timeoutMs: 10_000, what: 'tortie has fd00:66::/64' });
    // Withdrawals.
    await g.cli('global rib del 10.66.0.0/24 -a ipv4');
    await g.cli('global rib del fd00:66::/64 -a ipv6');
    await waitFor(async () => !(await has(sp.control, '10.66.0.0/24')) && !(await has(sp.control, 'fd00:66::/64')), {
      timeoutMs: 10_000,
      what: 'tortie dropped the withdrawn prefixes',
    });
    const peersNow = (await controlCall<{ peers: PeerStatus[] }>(sp.control, 'bgp.peers')).peers;
    assert.ok(peersNow.every((p) => p.flaps === 0));
  } finally {
    await sp.stop('SIGINT');
    await g.stop();
  }
});

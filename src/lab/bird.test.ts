import { test } from 'node:test';
import assert from 'node:assert/strict';
import { birdConfig, birdProtocolName } from './bird.js';

const base = { routerId: '198.18.0.3', asNumber: 64512, localIp: '198.18.0.3' };

/** The body of one `protocol bgp NAME { ... }` block. */
function protocolBlock(conf: string, name: string): string {
  const m = new RegExp(`protocol bgp ${name} \\{\\n([\\s\\S]*?)\\n\\}`).exec(conf);
  assert.ok(m, `no protocol ${name} in:\n${conf}`);
  return m[1]!;
}

test('one iBGP session per neighbour, active by default, direct next hops', () => {
  const conf = birdConfig({ ...base, neighbors: [{ name: 'node_1', ip: '198.18.0.11', asNumber: 64512 }] });
  const p = protocolBlock(conf, 'node_1');
  assert.match(p, /local 198\.18\.0\.3 as 64512;/);
  assert.match(p, /neighbor 198\.18\.0\.11 as 64512;/);
  assert.match(p, /gateway direct;/);
  assert.doesNotMatch(p, /passive on|rr client|rr cluster id|multihop/);
  assert.match(p, /graceful restart;/);
  assert.match(conf, /router id 198\.18\.0\.3;/);
  assert.match(conf, /protocol kernel \{[\s\S]*kernel table 254;[\s\S]*export where source = RTS_BGP;/);
});

test('route reflector: rr client and one cluster id on iBGP sessions only; passive; multihop', () => {
  const conf = birdConfig({
    ...base,
    rrClusterId: '1.1.1.1',
    holdTime: 9,
    kernelTable: 100,
    neighbors: [
      { name: 'a', ip: '198.18.0.11', asNumber: 64512, rrClient: true, passive: true },
      { name: 'b', ip: '198.18.1.14', asNumber: 64512, rrClient: true, multihop: true },
      { name: 'ext', ip: '198.18.0.50', asNumber: 65000, rrClient: true },
    ],
    staticRoutes: [{ prefix: '198.18.1.0/24', via: '198.18.0.254' }],
  });
  const a = protocolBlock(conf, 'a');
  assert.match(a, /passive on;/);
  assert.match(a, /rr client;/);
  assert.match(a, /rr cluster id 1\.1\.1\.1;/);
  assert.match(a, /hold time 9;/);
  const b = protocolBlock(conf, 'b');
  assert.match(b, /multihop;\n\s+gateway recursive;/);
  // rr client has no meaning on an eBGP session; BIRD would reject it.
  const ext = protocolBlock(conf, 'ext');
  assert.doesNotMatch(ext, /rr client|rr cluster/);
  assert.match(conf, /route 198\.18\.1\.0\/24 via 198\.18\.0\.254;/);
  assert.match(conf, /kernel table 100;/);
});

test('protocol names are made safe for BIRD', () => {
  assert.equal(birdProtocolName({ ip: '198.18.0.11', asNumber: 1 }), 'peer_198_18_0_11');
  assert.equal(birdProtocolName({ name: 'node-1', ip: 'x', asNumber: 1 }), 'node_1');
});

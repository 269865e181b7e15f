/**
 * The production mode of the dataplane: the process itself inside the node's namespace (the way
 * calico-node runs), so `ip` needs no `-n` and sysctls go straight through /proc/sys, which is
 * per network namespace. A child process is started under `ip netns exec`; the root namespace is
 * never touched.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/lab/exec.js';
import { deleteAll, ip, makeNs, nsName, requireRoot, sh, sweepStale } from './topology.js';

const here = dirname(fileURLToPath(import.meta.url));
const compiled = import.meta.url.endsWith('.js');
const childArgv = compiled ? [process.execPath, join(here, 'in-netns-child.js')] : [process.execPath, '--import', 'tsx', join(here, 'in-netns-child.ts')];

const ns = nsName('solo');

before(async () => {
  requireRoot();
  await sweepStale();
  await makeNs(ns);
  await ip(ns, 'link', 'add', 'calic0000001', 'type', 'veth', 'peer', 'name', 'peerc1');
  await ip(ns, 'link', 'set', 'calic0000001', 'up');
  await ip(ns, 'link', 'set', 'peerc1', 'up');
});

after(async () => {
  await deleteAll([ns]);
});

test('the dataplane running inside the namespace programs routes and writes /proc/sys there', async () => {
  const rootForward = (await run(['sysctl', '-n', 'net.ipv4.conf.all.forwarding'])).stdout.trim();
  const r = await run(['ip', 'netns', 'exec', ns, ...childArgv, 'calic0000001', '10.65.0.9'], { timeoutMs: 60_000 });
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { report: { ok: boolean; errors: string[] }; status: { ready: boolean } };
  assert.equal(out.report.ok, true, out.report.errors.join('\n'));
  assert.equal(out.status.ready, true);
  assert.match(await ip(ns, 'route', 'show', '10.65.0.9/32'), /10\.65\.0\.9 dev calic0000001 scope link/);
  assert.match(await ip(ns, 'route', 'show', 'proto', '80'), /blackhole 10\.65\.0\.0\/26/);
  for (const [k, v] of [
    ['net.ipv4.conf.calic0000001.proxy_arp', '1'],
    ['net.ipv4.neigh.calic0000001.proxy_delay', '0'],
    ['net.ipv4.conf.calic0000001.forwarding', '1'],
    ['net.ipv4.conf.calic0000001.route_localnet', '1'],
    ['net.ipv4.ip_forward', '1'],
  ]) {
    assert.equal((await sh(ns, 'sysctl', '-n', k!)).stdout.trim(), v, k);
  }
  // The root namespace is untouched (forwarding there is whatever it was).
  assert.equal((await run(['sysctl', '-n', 'net.ipv4.conf.all.forwarding'])).stdout.trim(), rootForward);
});

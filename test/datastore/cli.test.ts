/**
 * `tortie datastore dump` against a real etcd, and `tortie datastore check` on files, through the
 * real CLI entry point (the compiled build under `make test`, tsx from source).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { run } from '../../src/lab/exec.js';
import { tortieCommand } from '../helpers/tortie-cmd.js';
import { FIXTURES } from './fixtures.js';
import { startEtcdPair, type EtcdPair } from './helpers.js';

const tortie = (...args: string[]) => run([...tortieCommand(), ...args], { allowFailure: true, timeoutMs: 60_000 });

let pair: EtcdPair;
before(async () => {
  pair = await startEtcdPair('cli');
  for (const [k, v] of FIXTURES) await pair.etcdctl('put', k, v);
});
after(async () => {
  await pair?.cleanup();
});

test('datastore dump: Calico resource YAML of what the syncer sees', async () => {
  const r = await tortie('datastore', 'dump', '--etcd-endpoints', pair.unixEndpoint, '--kind', 'ippools');
  assert.equal(r.code, 0, r.stderr);
  const docs = parseAllDocuments(r.stdout).map((d) => (Array.isArray(d) ? d : d.toJS()) as { apiVersion: string; kind: string; metadata: { name: string }; spec: { cidr: string } });
  assert.deepEqual(docs.map((d) => [d.apiVersion, d.kind, d.metadata.name, d.spec.cidr]), [
    ['projectcalico.org/v3', 'IPPool', 'default-ipv4-ippool', '10.65.0.0/16'],
    ['projectcalico.org/v3', 'IPPool', 'vxlan-pool', '10.66.0.0/16'],
  ]);
  const bgp = await tortie('datastore', 'dump', '--etcd-endpoints', pair.unixEndpoint, '--syncer', 'bgp', '--node', 'node-2', '--kind', 'BlockAffinity');
  assert.equal(bgp.code, 0, bgp.stderr);
  assert.match(bgp.stdout, /name: node-2-10-66-2-0-26/);
  assert.doesNotMatch(bgp.stdout, /node-1/);
});

test('datastore dump: clear errors for a bad kind and an unreachable datastore', async () => {
  const bad = await tortie('datastore', 'dump', '--etcd-endpoints', pair.unixEndpoint, '--kind', 'gadgets');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown kind "gadgets"; one of: IPPool/);
  const down = await tortie('datastore', 'dump', '--etcd-endpoints', 'http://127.0.0.1:1', '--timeout', '2');
  assert.equal(down.code, 2);
  assert.match(down.stderr, /not in sync after 2 s \(status WaitForDatastore\)/);
});

test('datastore check: every problem with its path; exit status', async () => {
  const good = join(pair.dir, 'good.yaml');
  writeFileSync(good, FIXTURES.filter(([k]) => k.includes('/resources/')).map(([, v]) => `---\n${v}\n`).join(''));
  const ok = await tortie('datastore', 'check', good);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stderr, /18 resource\(s\) valid/);

  const bad = join(pair.dir, 'bad.yaml');
  writeFileSync(
    bad,
    [
      'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: default-pool\nspec:\n  cidr: 10.0.0.0/33\n  ipipMode: Sometimes\n',
      "kind: List\napiVersion: v1\nitems:\n- apiVersion: projectcalico.org/v3\n  kind: GlobalNetworkPolicy\n  metadata: {name: gnp}\n  spec: {selector: \"a = 'b'\"}\n- apiVersion: projectcalico.org/v3\n  kind: IPPool\n  metadata: {name: fine}\n  spec: {cidr: 10.1.0.0/16}\n",
    ].join('---\n'),
  );
  const r = await tortie('datastore', 'check', bad);
  assert.equal(r.code, 1);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    'IPPool/default-pool: spec.cidr: "10.0.0.0/33" is not a valid CIDR',
    'IPPool/default-pool: spec.ipipMode: "Sometimes" is not one of Never, Always, CrossSubnet',
    `GlobalNetworkPolicy/gnp: spec.selector: invalid selector "a = 'b'": unexpected character "=" at offset 2`,
  ]);
  assert.match(r.stderr, /3 problem\(s\) in 3 resource\(s\)/);
});

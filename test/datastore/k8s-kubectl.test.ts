/**
 * A real Kubernetes client (kubectl) against the test API server, to show the server speaks the
 * protocol well enough for more than our own backend: discovery, list with field selectors, CRDs,
 * apply (create and patch), label, delete and a watch stream — and that the K8sBackend sees what
 * kubectl changed. Also the BGP secret getter and the NetworkUnavailable node condition. Fails loudly when kubectl is missing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harness, NODE, waitFor, type Harness } from './k8s-helpers.js';
import { KubeClient } from '../../src/datastore/k8s/client.js';
import { readSecretKey, SecretError } from '../../src/datastore/k8s/secrets.js';
import { setNetworkUnavailable } from '../../src/datastore/k8s/nodestatus.js';

let h: Harness;
let dir: string;

const execFileAsync = promisify(execFile);

/** Runs kubectl asynchronously: the server lives in this process, so it must not block. */
async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('kubectl', ['--server', h.server.url, '--cache-dir', join(dir, 'cache'), ...args], {
    env: { ...process.env, KUBECONFIG: '/dev/null', HOME: dir },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return stdout;
}

before(async () => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
  } catch {
    throw new Error('kubectl is not installed: these tests need the real client');
  }
  dir = mkdtempSync(join(tmpdir(), 'tt-k8s-kubectl-'));
  h = await harness();
  await h.converge('initial snapshot');
});

after(async () => {
  await h?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('kubectl get pods -A -o json returns the server\'s pods; field selectors work', async () => {
  const list = JSON.parse(await kubectl('get', 'pods', '-A', '-o', 'json')) as { items: Array<{ metadata: { name: string } }> };
  assert.deepEqual(list.items.map((p) => p.metadata.name).sort(), h.server.list('pods').map((p) => p.metadata.name).sort());
  const local = (await kubectl('get', 'pods', '-A', '--field-selector', `spec.nodeName=${NODE}`, '-o', 'name')).trim().split('\n').sort();
  assert.deepEqual(local, ['pod/cni-1', 'pod/done-1', 'pod/hostnet-1', 'pod/web-1', 'pod/web-2']);
  const labelled = (await kubectl('get', 'pods', '-n', 'default', '-l', 'app in (web-1,far-1)', '-o', 'name')).trim().split('\n').sort();
  assert.deepEqual(labelled, ['pod/far-1', 'pod/web-1']);
});

test('kubectl get on Calico CRDs, by full name', async () => {
  const pools = JSON.parse(await kubectl('get', 'ippools.crd.projectcalico.org', '-o', 'json')) as { items: Array<{ metadata: { name: string }; spec: { cidr: string } }> };
  assert.deepEqual(pools.items.map((p) => [p.metadata.name, p.spec.cidr]), [['default-ipv4-ippool', '10.65.0.0/16']]);
  assert.match(await kubectl('get', 'blockaffinities.crd.projectcalico.org'), /node-1-10-65-1-0-26/);
});

test('kubectl apply / label / delete change what the backend delivers', async () => {
  const file = join(dir, 'objs.yaml');
  writeFileSync(
    file,
    [
      'apiVersion: crd.projectcalico.org/v1',
      'kind: IPPool',
      'metadata: {name: kubectl-pool}',
      'spec: {cidr: 10.70.0.0/16, vxlanMode: Always}',
      '---',
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: applied, namespace: default, labels: {app: applied}}',
      `spec: {nodeName: ${NODE}, containers: [{name: c, image: busybox}]}`,
      '',
    ].join('\n'),
  );
  assert.match(await kubectl('apply', '--validate=false', '-f', file), /ippool.crd.projectcalico.org\/kubectl-pool created/);
  await waitFor(() => h.model.has('IPPool/kubectl-pool'), 'pool from kubectl apply');
  // The applied pod has no IP yet (no CNI here): not an endpoint. Give it one, as kubelet would.
  h.server.patch('pods', 'default', 'applied', { status: { phase: 'Running', podIP: '10.65.1.40', podIPs: [{ ip: '10.65.1.40' }] } });
  const key = 'WorkloadEndpoint/default/node--1-k8s-applied-eth0';
  await waitFor(() => h.model.has(key), 'applied pod as endpoint');

  writeFileSync(file, ['apiVersion: crd.projectcalico.org/v1', 'kind: IPPool', 'metadata: {name: kubectl-pool}', 'spec: {cidr: 10.70.0.0/16, vxlanMode: Never}', ''].join('\n'));
  assert.match(await kubectl('apply', '--validate=false', '-f', file), /configured/);
  await waitFor(() => (h.model.get('IPPool/kubectl-pool') as { spec: { vxlanMode?: string } } | undefined)?.spec.vxlanMode === 'Never', 'patched pool');

  await kubectl('label', 'pod', '-n', 'default', 'applied', 'tier=db');
  await waitFor(() => (h.model.get(key)?.metadata.labels as Record<string, string> | undefined)?.tier === 'db', 'label');

  await kubectl('delete', 'ippools.crd.projectcalico.org', 'kubectl-pool');
  await kubectl('delete', 'pod', '-n', 'default', 'applied');
  await waitFor(() => !h.model.has('IPPool/kubectl-pool') && !h.model.has(key), 'deletions');
  await h.converge('after kubectl changes');
});

test('kubectl get -w streams events from the watch endpoint', async () => {
  // The backend watches this collection too; wait for one more watcher.
  const baseline = h.server.activeWatches('globalnetworksets.crd.projectcalico.org');
  const child = spawn(
    'kubectl',
    ['--server', h.server.url, '--cache-dir', join(dir, 'cache'), 'get', 'globalnetworksets.crd.projectcalico.org', '-w', '--output-watch-events', '-o', 'json'],
    { env: { ...process.env, KUBECONFIG: '/dev/null', HOME: dir } },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  try {
    await waitFor(() => h.server.activeWatches('globalnetworksets.crd.projectcalico.org') > baseline, 'kubectl watch open');
    h.server.create('globalnetworksets.crd.projectcalico.org', { metadata: { name: 'blocked' }, spec: { nets: ['203.0.113.0/24'] } });
    h.server.remove('globalnetworksets.crd.projectcalico.org', undefined, 'blocked');
    await waitFor(() => out.includes('"DELETED"'), 'kubectl saw ADDED and DELETED').catch((e: Error) => {
      throw new Error(`${e.message}; kubectl stdout: ${out} stderr: ${err}`);
    });
    assert.match(out, /"type":\s*"ADDED"/);
  } finally {
    child.kill();
  }
});

test('BGP password secret getter: value, missing secret, missing key', async () => {
  h.server.create('secrets', { metadata: { name: 'bgp-secrets', namespace: 'kube-system' }, data: { peer1: Buffer.from('s3cret!').toString('base64') } });
  const client = KubeClient.forServer(h.server.url);
  assert.equal(await readSecretKey(client, 'kube-system', 'bgp-secrets', 'peer1'), 's3cret!');
  await assert.rejects(readSecretKey(client, 'kube-system', 'nope', 'peer1'), (e: unknown) => e instanceof SecretError && /does not exist/.test(e.message));
  await assert.rejects(readSecretKey(client, 'kube-system', 'bgp-secrets', 'peer2'), (e: unknown) => e instanceof SecretError && /no key "peer2"/.test(e.message));
});

test('NetworkUnavailable condition: set without touching the kubelet\'s conditions; kubectl sees it', async () => {
  h.server.patch('nodes', undefined, NODE, { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }] } });
  const client = KubeClient.forServer(h.server.url);
  await setNetworkUnavailable(client, NODE, false, new Date('2026-01-01T00:00:00.123Z'));
  type Cond = { type: string; status: string; reason: string; lastTransitionTime?: string };
  let conds = (h.server.get('nodes', undefined, NODE)!.status as { conditions: Cond[] }).conditions;
  assert.deepEqual(conds.map((c) => [c.type, c.status, c.reason]), [['Ready', 'True', 'KubeletReady'], ['NetworkUnavailable', 'False', 'CalicoIsUp']]);
  assert.equal(conds[1].lastTransitionTime, '2026-01-01T00:00:00Z');
  await setNetworkUnavailable(client, NODE, true);
  conds = (h.server.get('nodes', undefined, NODE)!.status as { conditions: Cond[] }).conditions;
  assert.deepEqual(conds.map((c) => [c.type, c.status, c.reason]), [['Ready', 'True', 'KubeletReady'], ['NetworkUnavailable', 'True', 'CalicoIsDown']]);
  const shown = await kubectl('get', 'node', NODE, '-o', 'jsonpath={.status.conditions[?(@.type=="NetworkUnavailable")].reason}');
  assert.equal(shown, 'CalicoIsDown');
});

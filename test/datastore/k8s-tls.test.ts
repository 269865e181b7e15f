/**
 * HTTPS and credentials: the test API server with a self-signed certificate and a bearer token,
 * reached through a kubeconfig file loaded by loadKubeAuth (@kubernetes/client-node's
 * KubeConfig). The syncer converges over TLS; a wrong token is a clear error;
 * kubectl with the same kubeconfig works too. Needs openssl and kubectl (fails loudly without).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TestApiServer } from '../k8s-apiserver/server.js';
import { harness, seed, selfSignedCert } from './k8s-helpers.js';
import { loadKubeAuth } from '../../src/datastore/k8s/kubeconfig.js';
import { K8sBackend } from '../../src/datastore/k8s/backend.js';
import { KubeClient } from '../../src/datastore/k8s/client.js';
import { DatastoreError } from '../../src/datastore/types.js';

const TOKEN = 'tortie-test-token';
let dir: string;
let server: TestApiServer;

function kubeconfig(name: string, token: string): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'current-context: t',
      'contexts: [{name: t, context: {cluster: c, user: u}}]',
      `clusters: [{name: c, cluster: {server: "${server.url}", certificate-authority: ca.pem}}]`,
      `users: [{name: u, user: {token: ${token}}}]`,
      '',
    ].join('\n'),
  );
  return path;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tt-k8s-tls-'));
  server = await TestApiServer.start({ tls: selfSignedCert(dir), bearerToken: TOKEN, bookmarkIntervalMs: 200 });
  seed(server);
});

after(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the syncer converges over HTTPS with a kubeconfig (CA file relative to it, bearer token)', async () => {
  const auth = await loadKubeAuth(kubeconfig('good.yaml', TOKEN));
  assert.equal(auth.server, server.url);
  const h = await harness({ server, backend: { client: new KubeClient(auth) } });
  try {
    await h.converge('snapshot over TLS');
    assert.ok(h.model.size > 10);
  } finally {
    await h.close();
  }
});

test('a wrong token is reported with the server\'s 401, as a transient error', async () => {
  const backend = new K8sBackend({ auth: await loadKubeAuth(kubeconfig('bad.yaml', 'wrong')), nodeName: 'node-1' });
  await assert.rejects(
    backend.list({ kind: 'IPPool' }),
    (e: unknown) => e instanceof DatastoreError && e.kind === 'transient' && /401/.test(e.message) && /ippools/.test(e.message),
  );
  await backend.close();
});

test('kubectl works with the same kubeconfig', async () => {
  const { stdout } = await promisify(execFile)('kubectl', ['--kubeconfig', kubeconfig('kubectl.yaml', TOKEN), '--cache-dir', join(dir, 'cache'), 'get', 'nodes', '-o', 'name'], {
    env: { ...process.env, HOME: dir },
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.deepEqual(stdout.trim().split('\n').sort(), ['node/node-1', 'node/node-2']);
});

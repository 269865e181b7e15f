/**
 * `tortie datastore dump` in Kubernetes mode through the real CLI entry point: the
 * environment calico-node gets (DATASTORE_TYPE=kubernetes, KUBECONFIG) against the test API
 * server over HTTPS with a bearer token, a CA file relative to the kubeconfig and the token in a
 * `tokenFile`; and the error a missing kubeconfig gives. Needs openssl (fails loudly without).
 * Runs the compiled CLI when compiled itself, so what is tested is what ships.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { run } from '../../src/lab/exec.js';
import { TestApiServer } from '../k8s-apiserver/server.js';
import { NODE, seed, selfSignedCert } from './k8s-helpers.js';

/**
 * tortie from the same tree as this test: compiled main.js beside a compiled test (any outDir, not
 * only dist/, which test/helpers/tortie-cmd.ts assumes), main.ts through tsx from source.
 */
const TORTIE = import.meta.url.endsWith('.js')
  ? [process.execPath, '--enable-source-maps', fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))]
  : [process.execPath, '--import', import.meta.resolve('tsx'), fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))];
const TOKEN = 'tortie-cli-token';
let dir: string;
let server: TestApiServer;

function tortie(env: Record<string, string>, ...args: string[]) {
  return run([...TORTIE, ...args], { allowFailure: true, timeoutMs: 60_000, env: { ...process.env, ...env } });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tt-k8s-cli-'));
  server = await TestApiServer.start({ tls: selfSignedCert(dir), bearerToken: TOKEN });
  seed(server);
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
  writeFileSync(
    join(dir, 'kubeconfig'),
    [
      'apiVersion: v1',
      'kind: Config',
      'current-context: t',
      'contexts: [{name: t, context: {cluster: c, user: u}}]',
      `clusters: [{name: c, cluster: {server: "${server.url}", certificate-authority: ca.pem}}]`,
      'users: [{name: u, user: {tokenFile: token}}]',
      '',
    ].join('\n'),
  );
});

after(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('datastore dump with DATASTORE_TYPE=kubernetes and KUBECONFIG: felix and bgp syncers', async () => {
  const env = { DATASTORE_TYPE: 'kubernetes', KUBECONFIG: join(dir, 'kubeconfig') };
  const r = await tortie(env, 'datastore', 'dump', '--kind', 'ippools');
  assert.equal(r.code, 0, r.stderr);
  const docs = parseAllDocuments(r.stdout).map((d) => (Array.isArray(d) ? d : d.toJS()) as { apiVersion: string; kind: string; metadata: { name: string }; spec: { cidr: string } });
  assert.deepEqual(
    docs.map((d) => [d.apiVersion, d.kind, d.metadata.name, d.spec.cidr]),
    [['projectcalico.org/v3', 'IPPool', 'default-ipv4-ippool', '10.65.0.0/16']],
  );
  assert.match(r.stderr, new RegExp(`1 resource\\(s\\) from kubernetes ${server.url.replace(/[.]/g, '\\.')}`));

  const bgp = await tortie({ ...env, NODENAME: NODE }, 'datastore', 'dump', '--syncer', 'bgp', '--kind', 'BlockAffinity');
  assert.equal(bgp.code, 0, bgp.stderr);
  assert.match(bgp.stdout, new RegExp(`name: ${NODE}-10-65-1-0-26`));
  assert.doesNotMatch(bgp.stdout, /node-2/);
});

test('datastore dump in Kubernetes mode: a missing kubeconfig is a clear error naming the file', async () => {
  const missing = join(dir, 'nope.yaml');
  const r = await tortie({ KUBECONFIG: missing }, 'datastore', 'dump', '--datastore-type', 'kubernetes');
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.ok(r.stderr.includes(`cannot read kubeconfig ${missing}`), r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace for a user error');
});

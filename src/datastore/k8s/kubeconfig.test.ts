/**
 * loadKubeAuth over @kubernetes/client-node's KubeConfig: what the library applies per request
 * (CA, client certificate, tls-server-name, insecure flag, token), the `tokenFile` field handed to
 * the library's token-file authenticator (newline trimmed), and the UserErrors for kubeconfigs that
 * cannot work.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeAuth } from './kubeconfig.js';
import { UserError } from '../../util/errors.js';

function withDir(fn: (dir: string) => Promise<void> | void) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tt-kubeconfig-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const cfg = (cluster: string, user: string) =>
  ['current-context: x', 'contexts: [{name: x, context: {cluster: c, user: u}}]', `clusters: [{name: c, cluster: ${cluster}}]`, `users: [{name: u, user: ${user}}]`, ''].join('\n');

/** The Authorization header the library set, if any. */
const bearer = (o: https.RequestOptions) => (o.headers as Record<string, unknown> | undefined)?.Authorization;

const userError = (re: RegExp) => (e: unknown) => e instanceof UserError && re.test(e.message);

test(
  'inline CA, client certificate and key; tls-server-name; insecure flag; no agent left in the options',
  withDir(async (dir) => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    writeFileSync(
      join(dir, 'k'),
      cfg(
        `{server: "https://198.18.0.1:6443/", certificate-authority-data: ${b64('CA')}, tls-server-name: api.local, insecure-skip-tls-verify: true}`,
        `{client-certificate-data: ${b64('CERT')}, client-key-data: ${b64('KEY')}}`,
      ),
    );
    const a = await loadKubeAuth(join(dir, 'k'));
    assert.equal(a.server, 'https://198.18.0.1:6443');
    assert.equal(a.source, `kubeconfig ${join(dir, 'k')}`);
    const o: https.RequestOptions = {};
    await a.apply(o);
    assert.equal(String(o.ca), 'CA');
    assert.equal(String(o.cert), 'CERT');
    assert.equal(String(o.key), 'KEY');
    assert.equal(o.servername, 'api.local');
    assert.equal(o.rejectUnauthorized, false);
    assert.equal(bearer(o), undefined);
    assert.equal(o.agent, undefined);
  }),
);

test(
  'CA and token files relative to the kubeconfig; an inline token wins over tokenFile',
  withDir(async (dir) => {
    writeFileSync(join(dir, 'ca.pem'), 'CAFILE');
    writeFileSync(join(dir, 'tok'), 'from-file\n');
    writeFileSync(join(dir, 'k'), cfg('{server: "https://h:1", certificate-authority: ca.pem}', '{tokenFile: tok}'));
    const a = await loadKubeAuth(join(dir, 'k'));
    const o: https.RequestOptions = {};
    await a.apply(o);
    assert.equal(String(o.ca), 'CAFILE');
    assert.equal(bearer(o), 'Bearer from-file');

    writeFileSync(join(dir, 'k2'), cfg('{server: "https://h:1"}', '{token: inline, tokenFile: tok}'));
    const o2: https.RequestOptions = {};
    await (await loadKubeAuth(join(dir, 'k2'))).apply(o2);
    assert.equal(bearer(o2), 'Bearer inline');
  }),
);

test(
  'clear UserErrors naming the file: unreadable, unknown context, missing CA file, plain HTTP, proxy-url, no in-cluster env',
  withDir(async (dir) => {
    const missing = join(dir, 'missing');
    await assert.rejects(loadKubeAuth(missing), userError(new RegExp(`cannot read kubeconfig ${missing}`)));
    writeFileSync(join(dir, 'noctx'), 'current-context: nope\ncontexts: []\n');
    await assert.rejects(loadKubeAuth(join(dir, 'noctx')), userError(/noctx: current-context "nope" does not name a context/));
    writeFileSync(join(dir, 'noca'), cfg('{server: "https://h:1", certificate-authority: gone.pem}', '{token: t}'));
    await assert.rejects(loadKubeAuth(join(dir, 'noca')), userError(/noca: cannot use its credentials: .*gone\.pem/));
    writeFileSync(join(dir, 'http'), cfg('{server: "http://127.0.0.1:8001"}', '{}'));
    await assert.rejects(loadKubeAuth(join(dir, 'http')), userError(/http: server http:\/\/127.0.0.1:8001 is plain HTTP.*insecure-skip-tls-verify/));
    writeFileSync(join(dir, 'proxy'), cfg('{server: "https://h:1", proxy-url: "http://proxy:3128"}', '{}'));
    await assert.rejects(loadKubeAuth(join(dir, 'proxy')), userError(/proxy: proxy-url is not supported/));
    const saved = process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_HOST;
    try {
      await assert.rejects(loadKubeAuth(undefined), userError(/KUBERNETES_SERVICE_HOST/));
    } finally {
      if (saved !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved;
    }
  }),
);

test(
  'plain HTTP is accepted when the kubeconfig says insecure-skip-tls-verify',
  withDir(async (dir) => {
    writeFileSync(join(dir, 'k'), cfg('{server: "http://127.0.0.1:8001", insecure-skip-tls-verify: true}', '{}'));
    const a = await loadKubeAuth(join(dir, 'k'));
    assert.equal(a.server, 'http://127.0.0.1:8001');
  }),
);

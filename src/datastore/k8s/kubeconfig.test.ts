import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinAuth } from './kubeconfig.js';
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

test(
  'inline CA, client certificate and key; tls-server-name; insecure flag',
  withDir(async (dir) => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    writeFileSync(
      join(dir, 'k'),
      cfg(
        `{server: "https://198.18.0.1:6443", certificate-authority-data: ${b64('CA')}, tls-server-name: api.local, insecure-skip-tls-verify: true}`,
        `{client-certificate-data: ${b64('CERT')}, client-key-data: ${b64('KEY')}}`,
      ),
    );
    const a = builtinAuth(join(dir, 'k'));
    assert.equal(a.server, 'https://198.18.0.1:6443');
    const o: https.RequestOptions = {};
    await a.apply(o);
    assert.equal(String(o.ca), 'CA');
    assert.equal(String(o.cert), 'CERT');
    assert.equal(String(o.key), 'KEY');
    assert.equal(o.servername, 'api.local');
    assert.equal(o.rejectUnauthorized, false);
    assert.equal(o.headers, undefined);
  }),
);

test(
  'token file is re-read on every request (rotation)',
  withDir(async (dir) => {
    writeFileSync(join(dir, 'tok'), 'one\n');
    writeFileSync(join(dir, 'k'), cfg('{server: "https://h:1"}', '{tokenFile: tok}'));
    const a = builtinAuth(join(dir, 'k'));
    const o1: https.RequestOptions = {};
    await a.apply(o1);
    assert.deepEqual(o1.headers, { Authorization: 'Bearer one' });
    writeFileSync(join(dir, 'tok'), 'two');
    const o2: https.RequestOptions = {};
    await a.apply(o2);
    assert.deepEqual(o2.headers, { Authorization: 'Bearer two' });
  }),
);

test(
  'clear UserErrors: exec plugins, unknown context, missing server, unreadable file, no in-cluster env',
  withDir((dir) => {
    writeFileSync(join(dir, 'exec'), cfg('{server: "https://h:1"}', '{exec: {command: aws}}'));
    assert.throws(() => builtinAuth(join(dir, 'exec')), (e: unknown) => e instanceof UserError && /Node >= 22.19/.test(e.message));
    writeFileSync(join(dir, 'noctx'), 'current-context: nope\ncontexts: []\n');
    assert.throws(() => builtinAuth(join(dir, 'noctx')), (e: unknown) => e instanceof UserError && /"nope"/.test(e.message));
    writeFileSync(join(dir, 'nosrv'), cfg('{}', '{}'));
    assert.throws(() => builtinAuth(join(dir, 'nosrv')), (e: unknown) => e instanceof UserError && /no server address/.test(e.message));
    assert.throws(() => builtinAuth(join(dir, 'missing')), (e: unknown) => e instanceof UserError && /cannot read kubeconfig/.test(e.message));
    const saved = process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_HOST;
    try {
      assert.throws(() => builtinAuth(undefined), (e: unknown) => e instanceof UserError && /KUBERNETES_SERVICE_HOST/.test(e.message));
    } finally {
      if (saved !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved;
    }
  }),
);

/**
 * TLS to etcd as calico-node configures it: ETCD_ENDPOINTS=https://..., ETCD_CA_CERT_FILE,
 * ETCD_CERT_FILE, ETCD_KEY_FILE, against a real etcd requiring client certificates. Certificates
 * are made with openssl for this test only. etcd and the syncer (child process) share one namespace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRunning, run, spawnDaemon, stopProcess, tailFile, waitFor } from '../../src/lab/exec.js';
import { ipIn, netnsAdd, netnsDelete, runIn } from '../../src/lab/netns.js';
import { requireRoot, startSyncerChild, sweepStale, waitStatusCount } from './helpers.js';

const PORT = 2379;
const EP = `https://127.0.0.1:${PORT}`;

async function makeCerts(dir: string): Promise<Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string>> {
  const f = (n: string) => join(dir, n);
  const ossl = (...a: string[]) => run(['openssl', ...a], { timeoutMs: 30_000 });
  await ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=tt-ds-ca', '-keyout', f('ca.key'), '-out', f('ca.crt'));
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, ext] of [['server', 'server.ext'], ['client', 'client.ext']] as const) {
    await ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=tt-ds-${name}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
    await ossl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f(ext), '-out', f(`${name}.crt`));
  }
  return { ca: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), clientCert: f('client.crt'), clientKey: f('client.key') };
}

test('etcd TLS with client certificates from ETCD_* variables; a missing client cert fails clearly', { timeout: 120_000 }, async () => {
  requireRoot();
  await sweepStale();
  const ns = `tt-ds-${process.pid}-tls`;
  const dir = mkdtempSync(join(tmpdir(), 'tt-ds-tls-'));
  let pid = 0;
  await netnsAdd(ns);
  try {
    await ipIn(ns, 'link', 'set', 'lo', 'up');
    const c = await makeCerts(dir);
    const log = join(dir, 'etcd.log');
    pid = await spawnDaemon(
      [
        'ip', 'netns', 'exec', ns, 'etcd', `--data-dir=${join(dir, 'data')}`,
        `--listen-client-urls=${EP}`, `--advertise-client-urls=${EP}`,
        '--listen-peer-urls=http://127.0.0.1:2380', '--initial-advertise-peer-urls=http://127.0.0.1:2380',
        '--initial-cluster=default=http://127.0.0.1:2380',
        `--cert-file=${c.serverCert}`, `--key-file=${c.serverKey}`, `--trusted-ca-file=${c.ca}`, '--client-cert-auth',
      ],
      { logFile: log },
    );
    const etcdctl = (...a: string[]) =>
      runIn(ns, ['etcdctl', `--endpoints=${EP}`, `--cacert=${c.ca}`, `--cert=${c.clientCert}`, `--key=${c.clientKey}`, ...a], { timeoutMs: 10_000 });
    await waitFor(async () => isRunning(pid) && (await etcdctl('endpoint', 'health')).code === 0, { timeoutMs: 30_000, intervalMs: 300, what: `TLS etcd healthy\n${tailFile(log)}` });
    await etcdctl('put', '/calico/resources/v3/projectcalico.org/ippools/tls-pool', '{"kind":"IPPool","apiVersion":"projectcalico.org/v3","metadata":{"name":"tls-pool"},"spec":{"cidr":"10.70.0.0/16"}}');

    const good = startSyncerChild(ns, EP, { ETCD_CA_CERT_FILE: c.ca, ETCD_CERT_FILE: c.clientCert, ETCD_KEY_FILE: c.clientKey });
    try {
      await waitStatusCount(good, 'InSync', 1, 30_000);
      assert.deepEqual(good.updates.map((u) => `${u.type} ${u.key}`), ['add IPPool/tls-pool']);
    } finally {
      await good.stop();
    }

    // CA but no client certificate: the server refuses the handshake; the syncer stays up, keeps
    // retrying and never claims to be in sync.
    const noCert = startSyncerChild(ns, EP, { ETCD_CA_CERT_FILE: c.ca });
    try {
      await waitFor(async () => (await noCert.request('health')).lostSince !== undefined, { timeoutMs: 30_000, what: 'failure to be reported' });
      assert.equal((await noCert.request('health')).inSync, false);
      assert.ok(noCert.proc.exitCode === null);
    } finally {
      await noCert.stop();
    }
  } finally {
    if (pid) await stopProcess(pid);
    await netnsDelete(ns);
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * startEtcd() against the real etcd binary in a network namespace: healthy over TCP inside the
 * namespace, reachable over its unix socket from the root namespace, survives restart with its
 * data, and reports its log tail when it cannot start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { startEtcd } from '../../src/lab/etcd.js';
import { isRunning } from '../../src/lab/exec.js';
import { ipIn, netnsAdd, netnsDelete, netnsExists } from '../../src/lab/netns.js';
import { requireRoot } from './helpers.js';

test('startEtcd: healthy in a namespace, unix socket from root ns, restart keeps data', async () => {
  requireRoot();
  const ns = `tt-lab-${process.pid}-etcd`;
  const dir = mkdtempSync(join(tmpdir(), 'tt-lab-etcd-'));
  await netnsAdd(ns);
  let pid = 0;
  try {
    await ipIn(ns, 'link', 'set', 'lo', 'up');
    await ipIn(ns, 'addr', 'add', '127.0.0.2/8', 'dev', 'lo');
    const etcd = await startEtcd({ netns: ns, listenIp: '127.0.0.2', dataDir: join(dir, 'data'), logFile: join(dir, 'etcd.log') });
    pid = etcd.pid;
    assert.equal(etcd.endpoint, 'http://127.0.0.2:2379');
    const client = new Etcd3({ hosts: etcd.unixEndpoint });
    try {
      await client.put('/tt/k').value('v1');
      await etcd.restart();
      assert.notEqual(etcd.pid, pid);
      pid = etcd.pid;
      assert.equal(await client.get('/tt/k').string(), 'v1');
    } finally {
      client.close();
    }
    await etcd.stop();
    assert.equal(isRunning(pid), false);
  } finally {
    if (pid && isRunning(pid)) process.kill(pid, 'SIGKILL');
    await netnsDelete(ns);
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(netnsExists(ns), false);
});

test('startEtcd: fails fast with the log tail when etcd cannot start', async () => {
  requireRoot();
  const ns = `tt-lab-${process.pid}-etcdbad`;
  const dir = mkdtempSync(join(tmpdir(), 'tt-lab-etcd-'));
  await netnsAdd(ns);
  try {
    await ipIn(ns, 'link', 'set', 'lo', 'up');
    await assert.rejects(
      // Client and peer on one port: the second listener fails with EADDRINUSE and etcd exits.
      startEtcd({ netns: ns, listenIp: '127.0.0.1', dataDir: join(dir, 'data'), clientPort: 23999, peerPort: 23999 }),
      /etcd \(pid \d+\) exited[\s\S]*last lines of[\s\S]*address already in use/,
    );
  } finally {
    await netnsDelete(ns);
    rmSync(dir, { recursive: true, force: true });
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { ExecError, type CommandRunner, type ExecResult } from '../exec.js';
import { silentLogger } from '../../util/log.js';
import { createIptablesMetrics } from './metrics.js';
import { RestoreRunner } from './restore-runner.js';

function scripted(answer: (argv: readonly string[]) => ExecResult | Error, calls: string[][] = []): CommandRunner {
  return {
    run(argv): Promise<ExecResult> {
      calls.push([...argv]);
      const a = answer(argv);
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
    },
  };
}

const metricValue = async (r: Registry, name: string): Promise<number | undefined> => (await r.getSingleMetric(name)!.get()).values[0]?.value;

test('legacy: the restore runs under flock on the lock file, with a private lock for iptables itself', async () => {
  const calls: string[][] = [];
  const registry = new Registry();
  const rr = new RestoreRunner({
    backend: 'legacy',
    netns: 'ns1',
    lockFile: '/tmp/x.lock',
    lockTimeoutMs: 5_000,
    metrics: createIptablesMetrics(registry),
    log: silentLogger,
    runner: scripted(() => ({ code: 0, stdout: 'flock: getting lock took 2.500000 seconds\nflock: executing ip\n', stderr: '' }), calls),
  });
  const out = await rr.restore('iptables-legacy-restore', '*filter\nCOMMIT\n');
  assert.equal(out.ok, true);
  assert.equal(out.stderr, '');
  assert.equal(await metricValue(registry, 'felix_iptables_lock_acquire_secs'), 2.5);
  assert.deepEqual(calls[0], [
    'flock', '--verbose', '--wait', '5', '--conflict-exit-code', '75', '/tmp/x.lock',
    'ip', 'netns', 'exec', 'ns1', 'env', 'XTABLES_LOCKFILE=/tmp/x.lock.tortie', 'iptables-legacy-restore', '--noflush',
  ]);
  assert.equal(await metricValue(registry, 'felix_iptables_lock_retries'), 1);
});

test('legacy: a lock held past the timeout is a lock failure, not an input error', async () => {
  const registry = new Registry();
  const rr = new RestoreRunner({
    backend: 'legacy',
    lockFile: '/tmp/x.lock',
    lockTimeoutMs: 1_000,
    metrics: createIptablesMetrics(registry),
    log: silentLogger,
    runner: scripted(() => ({ code: 75, stdout: '', stderr: 'flock: timeout while waiting to get lock\n' })),
  });
  const out = await rr.restore('iptables-legacy-restore', '');
  assert.equal(out.ok, false);
  assert.equal(out.lockTimeout, true);
  assert.match(out.stderr, /held by another process for more than 1 s/);
  assert.equal(await metricValue(registry, 'felix_iptables_restore_errors'), 1);
});

test('legacy without flock installed: plain --wait on the real lock file', async () => {
  const calls: string[][] = [];
  const rr = new RestoreRunner({
    backend: 'legacy',
    lockFile: '/tmp/x.lock',
    metrics: createIptablesMetrics(new Registry()),
    log: silentLogger,
    runner: scripted((argv) => (argv[0] === 'flock' ? new ExecError(argv, 'cannot run: spawn flock ENOENT', '') : { code: 0, stdout: '', stderr: '' }), calls),
  });
  assert.equal((await rr.restore('iptables-legacy-restore', '')).ok, true);
  assert.deepEqual(calls[1], ['env', 'XTABLES_LOCKFILE=/tmp/x.lock', 'iptables-legacy-restore', '--noflush', '--wait', '10']);
  await rr.restore('iptables-legacy-restore', '');
  assert.equal(calls[2]![0], 'env', 'the fallback sticks');
});

test('legacy iptables that ignores XTABLES_LOCKFILE (sees our own lock held): falls back and retries at once', async () => {
  const calls: string[][] = [];
  const rr = new RestoreRunner({
    backend: 'legacy',
    metrics: createIptablesMetrics(new Registry()),
    log: silentLogger,
    runner: scripted(
      (argv) =>
        argv[0] === 'flock'
          ? { code: 4, stdout: 'flock: getting lock took 0.000001 seconds\n', stderr: 'Another app is currently holding the xtables lock. Perhaps you want to use the -w option?\n' }
          : { code: 0, stdout: '', stderr: '' },
      calls,
    ),
  });
  assert.equal((await rr.restore('iptables-legacy-restore', '')).ok, true);
  assert.equal(calls.length, 2);
  assert.equal(calls[1]![0], 'env');
});

test('nft: no lock, no flock', async () => {
  const calls: string[][] = [];
  const rr = new RestoreRunner({ backend: 'nft', metrics: createIptablesMetrics(new Registry()), log: silentLogger, runner: scripted(() => ({ code: 0, stdout: '', stderr: '' }), calls) });
  await rr.restore('ip6tables-nft-restore', '');
  assert.deepEqual(calls[0], ['ip6tables-nft-restore', '--noflush']);
});

/**
 * Teardown after crashes: a lab whose owner died is swept by `down --stale` (also when `up` was
 * killed halfway), while a live lab of another process survives the sweep.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { labDown, loadLab, sweepStale } from '../../src/lab/index.js';
import { isRunning, waitFor } from '../../src/lab/exec.js';
import { netnsList } from '../../src/lab/netns.js';
import { readStateFile, stateFile, type LabState } from '../../src/lab/state.js';
import { assertNoNamespaces, assertNoProcesses, freshLabDir, labName, labPids, requireRoot, tortie } from './helpers.js';
import { tortieCommand } from '../helpers/tortie-cmd.js';

before(() => {
  requireRoot();
  freshLabDir();
});

/** A stand-in owner process (e.g. a test run) that we can kill to simulate its crash. */
function owner(): ChildProcess {
  return spawn('sleep', ['600'], { stdio: 'ignore' });
}

function killAndReap(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });
}

test('owner killed after up: sweepStale removes the lab, a live lab survives', async () => {
  const dead = labName('dead');
  const live = labName('live');
  const o1 = owner();
  const o2 = owner();
  try {
    for (const [n, o] of [[dead, o1], [live, o2]] as const) {
      const r = await tortie(['lab', 'up', '--name', n, '--nodes', '2', '--bird-peer', '--owner-pid', String(o.pid)]);
      assert.equal(r.code, 0, r.stderr);
    }
    const deadPids = labPids(loadLab(dead));
    await killAndReap(o1);
    const swept = await sweepStale();
    assert.ok(swept.includes(dead), `swept ${swept.join(',')}`);
    assert.ok(!swept.includes(live));
    assertNoNamespaces(`tl-${dead}-`);
    assertNoProcesses(deadPids);
    assert.equal(existsSync(stateFile(dead)), false);
    // The live lab is untouched: namespaces, etcd and BIRD still there.
    const l = loadLab(live);
    assert.ok(l.namespaces.every((ns) => netnsList().includes(ns)));
    assert.ok(labPids(l).every(isRunning));
    // And `down --stale` from the CLI leaves it alone too.
    const cli = await tortie(['lab', 'down', '--stale']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.ok(loadLab(live));
  } finally {
    await killAndReap(o1);
    await killAndReap(o2);
    await labDown(dead);
    await labDown(live);
  }
  assertNoNamespaces(`tl-${live}-`);
});

const KILL_POINTS: { tag: string; what: string; reached: (s: LabState | undefined) => boolean }[] = [
  { tag: 'hns', what: 'some namespaces exist', reached: (s) => (s?.namespaces.length ?? 0) >= 4 },
  { tag: 'hetcd', what: 'etcd was started', reached: (s) => !!s?.etcd },
];

for (const kp of KILL_POINTS) {
  test(`up killed halfway (${kp.what}): the partial lab is found and removed by sweepStale`, async () => {
    const name = labName(kp.tag);
    const o = owner();
    const base = tortieCommand();
    const up = spawn(base[0]!, [...base.slice(1), 'lab', 'up', '--name', name, '--nodes', '12', '--owner-pid', String(o.pid)], { stdio: 'ignore' });
    try {
      await waitFor(() => kp.reached(readStateFile(stateFile(name))), { timeoutMs: 60_000, intervalMs: 5, what: `up: ${kp.what}` });
      up.kill('SIGKILL');
      await new Promise((r) => up.once('exit', r));
      const s = readStateFile(stateFile(name))!;
      if (kp.tag === 'hetcd') assert.ok(isRunning(s.etcd!.pid), 'etcd outlived the killed up');
      // Its owner still lives: not stale yet.
      assert.ok(!(await sweepStale()).includes(name));
      await killAndReap(o);
      assert.ok((await sweepStale()).includes(name));
      assertNoNamespaces(`tl-${name}-`);
      assertNoProcesses(labPids(s));
    } finally {
      up.kill('SIGKILL');
      await killAndReap(o);
      await labDown(name);
    }
  });
}

test('down works from a fresh process and after its namespaces were partly removed by hand', async () => {
  const name = labName('part');
  const r = await tortie(['lab', 'up', '--name', name, '--nodes', '2']);
  assert.equal(r.code, 0, r.stderr);
  const s = loadLab(name);
  await tortie(['lab', 'exec', name, 'fabric', '--', 'true']);
  // Someone deleted a node namespace behind the lab's back.
  const { netnsDelete } = await import('../../src/lab/netns.js');
  await netnsDelete(s.nodes[1]!.netns);
  const d = await tortie(['lab', 'down', name]);
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /removed/);
  const d2 = await tortie(['lab', 'down', name]);
  assert.equal(d2.code, 0, d2.stderr);
  assert.match(d2.stdout, /does not exist/);
  assertNoNamespaces(`tl-${name}-`);
  assertNoProcesses(labPids(s));
});

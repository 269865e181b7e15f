import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type * as State from './state.js';

let dir: string;
let st: typeof State;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tt-lab-unit-'));
  process.env.TORTIE_LAB_DIR = join(dir, 'labs');
  process.env.TORTIE_LAB_INDEX_DIR = join(dir, 'index');
  // Imported after the environment is set: the index directory is read at load time.
  st = await import('./state.js');
});

after(() => rmSync(dir, { recursive: true, force: true }));

function sample(name: string, ownerPid: number): State.LabState {
  return {
    version: 1, name, createdAt: new Date().toISOString(), phase: 'ready', ownerPid, workDir: join(dir, 'labs', name), subnets: 1,
    pool: { cidr: '10.65.0.0/16', blockSize: 26 }, namespaces: [], fabricNetns: `tl-${name}-fabric`, nodes: [], pods: [],
  };
}

test('save, load, index and remove', () => {
  st.saveLab(sample('one', process.pid));
  assert.equal(st.loadLab('one').name, 'one');
  assert.equal(readlinkSync(join(dir, 'index', 'one')), st.stateFile('one'));
  assert.deepEqual(st.listLabNames(), ['one']);
  assert.ok(st.allStateFiles().includes(st.stateFile('one')));
  st.removeLabFiles('one');
  assert.equal(existsSync(st.stateFile('one')), false);
  assert.equal(existsSync(join(dir, 'index', 'one')), false);
  assert.throws(() => st.loadLab('one'), /no lab named "one"/);
});

test('owner liveness: this process lives, a finished one does not, 0 is persistent', () => {
  assert.equal(st.ownerAlive({ ownerPid: process.pid }), true);
  const r = spawnSync('true');
  assert.equal(st.ownerAlive({ ownerPid: r.pid! }), false);
  assert.equal(st.ownerAlive({ ownerPid: 0 }), true);
  // A recycled pid (start time differs) is not the owner.
  assert.equal(st.ownerAlive({ ownerPid: process.pid, ownerStartTime: 1 }), false);
});

test('the lock serialises concurrent holders and takes over from a dead one', async () => {
  const order: string[] = [];
  const hold = (tag: string) =>
    st.withLabLock('locked', async () => {
      order.push(`${tag}+`);
      await new Promise((r) => setTimeout(r, 30));
      order.push(`${tag}-`);
    });
  await Promise.all([hold('a'), hold('b')]);
  assert.deepEqual(order.map((x) => x.slice(-1)), ['+', '-', '+', '-']);
  // A lock file left by a process that no longer exists does not block.
  const dead = spawnSync('true').pid!;
  writeFileSync(join(dir, 'labs', 'locked.lock'), String(dead));
  assert.equal(await st.withLabLock('locked', async () => 'ran'), 'ran');
});

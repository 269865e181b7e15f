/**
 * The `tortie lab` command line with bad input: each mistake exits non-zero with a message that
 * says what is wrong, prints no stack trace, and changes nothing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { labDown, labUp } from '../../src/lab/index.js';
import { netnsList } from '../../src/lab/netns.js';
import { stateFile } from '../../src/lab/state.js';
import { assertNoNamespaces, freshLabDir, labName, requireRoot, tortie, type CliResult } from './helpers.js';

const name = labName('cli');
let stateBefore = '';

before(async () => {
  requireRoot();
  freshLabDir();
  await labUp({ name, nodes: 2 });
  stateBefore = readFileSync(stateFile(name), 'utf8');
});

after(async () => {
  await labDown(name);
  assertNoNamespaces(`tl-${name}-`);
});

/**
 * The namespaces of every lab the commands below name (this file's lab and the names the bad
 * commands try to create). Not all `tl-` namespaces: another lab run on the same machine may come
 * or go meanwhile, which is not a change these commands made.
 */
function nsSnapshot(): string {
  const labs = [name, 'nonroot', 'okname', 'Bad-Name', 'x'.repeat(13)];
  return netnsList().filter((n) => labs.some((l) => n.startsWith(`tl-${l}-`))).join(' ');
}

function assertUserFailure(r: CliResult, message: RegExp): void {
  assert.notEqual(r.code, 0, `expected failure, got 0; stdout: ${r.stdout}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'a user error must not print a stack trace');
}

test('up with a name that exists fails and leaves the lab as it was', async () => {
  const before = nsSnapshot();
  assertUserFailure(await tortie(['lab', 'up', '--name', name, '--nodes', '1']), /already exists/);
  assert.equal(nsSnapshot(), before);
  assert.equal(readFileSync(stateFile(name), 'utf8'), stateBefore);
});

test('invalid names and numbers are rejected before anything is created', async () => {
  const before = nsSnapshot();
  assertUserFailure(await tortie(['lab', 'up', '--name', 'Bad-Name', '--nodes', '1']), /invalid lab name/);
  assertUserFailure(await tortie(['lab', 'up', '--name', 'x'.repeat(13), '--nodes', '1']), /invalid lab name/);
  assertUserFailure(await tortie(['lab', 'up', '--name', 'okname', '--nodes', '0']), /--nodes must be/);
  assertUserFailure(await tortie(['lab', 'up', '--name', 'okname', '--nodes', 'three']), /--nodes must be/);
  assertUserFailure(await tortie(['lab', 'up', '--name', 'okname', '--nodes', '2', '--subnets', '3']), /--subnets must be 1 or 2/);
  assertUserFailure(await tortie(['lab', 'up', '--name', 'okname', '--nodes', '2', '--pool', '10.65.0.1/16']), /host bits/);
  assertUserFailure(await tortie(['lab', 'pod', 'add', name, 'node-1', 'Web_1']), /invalid pod name/);
  assertUserFailure(await tortie(['lab', 'pod', 'add', name, 'node-1', 'web', '--labels', 'novalue']), /expected key=value/);
  assertUserFailure(await tortie(['lab', 'down']), /exactly one of/);
  assertUserFailure(await tortie(['lab', 'up', '--name', 'okname', '--nodes', '1', '--owner-pid', '999999999']), /no such process/);
  assert.equal(nsSnapshot(), before);
  assert.equal(readFileSync(stateFile(name), 'utf8'), stateBefore);
});

test('unknown lab, node, pod and member; a pod that exists', async () => {
  assertUserFailure(await tortie(['lab', 'status', 'nosuchlab']), /no lab named "nosuchlab"/);
  assertUserFailure(await tortie(['lab', 'pod', 'add', name, 'node-9', 'web']), /has no node "node-9" \(nodes: node-1, node-2\)/);
  assertUserFailure(await tortie(['lab', 'pod', 'del', name, 'nosuchpod']), /has no pod default\/nosuchpod/);
  assertUserFailure(await tortie(['lab', 'exec', name, 'node-7', '--', 'true']), /has no member "node-7"/);
  assertUserFailure(await tortie(['lab', 'agent', 'stop', name, 'node-5']), /has no node "node-5"/);
  assert.equal(readFileSync(stateFile(name), 'utf8'), stateBefore);

  const ok = await tortie(['lab', 'pod', 'add', name, 'node-1', 'dup']);
  assert.equal(ok.code, 0, ok.stderr);
  const snapshot = readFileSync(stateFile(name), 'utf8');
  const before = nsSnapshot();
  assertUserFailure(await tortie(['lab', 'pod', 'add', name, 'node-2', 'dup']), /pod default\/dup already exists/);
  assert.equal(nsSnapshot(), before);
  assert.equal(readFileSync(stateFile(name), 'utf8'), snapshot);
  assert.equal((await tortie(['lab', 'pod', 'del', name, 'dup'])).code, 0);
});

test('exec passes the exit code through; status prints the lab', async () => {
  assert.equal((await tortie(['lab', 'exec', name, 'node-1', '--', 'sh', '-c', 'exit 7'])).code, 7);
  const st = await tortie(['lab', 'status', name]);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /node-2\s+198\.18\.0\.12/);
  const js = JSON.parse((await tortie(['lab', 'status', name, '--json'])).stdout);
  assert.equal(js.nodes.length, 2);
});

test('without root every mutating command fails with a clear message', async () => {
  const before = nsSnapshot();
  const env = { TORTIE_LAB_DIR: process.env.TORTIE_LAB_DIR };
  for (const args of [
    ['lab', 'up', '--name', 'nonroot', '--nodes', '1'],
    ['lab', 'down', name],
    ['lab', 'down', '--stale'],
    ['lab', 'pod', 'add', name, 'node-1', 'web'],
    ['lab', 'agent', 'start', name, 'node-1'],
  ]) {
    assertUserFailure(await tortie(args, { asNobody: true, env }), /needs root.*sudo/);
  }
  assert.equal(nsSnapshot(), before);
  assert.equal(readFileSync(stateFile(name), 'utf8'), stateBefore);
});

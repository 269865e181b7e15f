import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rule } from '../rules/chain.js';
import { hookedStateFromSave, planHook, type HookSet } from './hooks.js';

// The hashes of Felix's INPUT/FORWARD hooks, as on every Calico node (see rules/hash.test.ts).
const INPUT_HOOK = 'Cz_u1IQiXIMmKD4c';
const FWD_HOOK = 'wUHhoiAYhphO9Mso';

const input: HookSet = { inserts: [rule([], ['--jump', 'cali-INPUT'])], appends: [] };

function saved(chain: string, lines: string[]) {
  return hookedStateFromSave({
    name: chain,
    policy: 'ACCEPT',
    rules: lines.map((line) => ({ line, hash: /cali:([\w-]+)/.exec(line)?.[1] ?? '' })),
  });
}

test('insert mode: ours on top of a chain that has only foreign rules', () => {
  const plan = planHook('INPUT', input, saved('INPUT', ['-A INPUT -j KUBE-FIREWALL']), 'insert')!;
  assert.deepEqual(plan.lines, [`-I INPUT -m comment --comment "cali:${INPUT_HOOK}" --jump cali-INPUT`]);
  assert.deepEqual(plan.after.hashes, [INPUT_HOOK, '']);
});

test('insert mode: several rules are inserted last first, so they land in order', () => {
  const set: HookSet = { inserts: [rule([], ['--jump', 'cali-a']), rule([], ['--jump', 'cali-b'])], appends: [] };
  const plan = planHook('INPUT', set, saved('INPUT', []), 'insert')!;
  assert.match(plan.lines[0]!, /^-I INPUT .*--jump cali-b$/);
  assert.match(plan.lines[1]!, /^-I INPUT .*--jump cali-a$/);
});

test('in sync: nothing to write', () => {
  assert.equal(planHook('INPUT', input, saved('INPUT', [`-A INPUT -m comment --comment "cali:${INPUT_HOOK}" -j cali-INPUT`, '-A INPUT -j KUBE-FIREWALL']), 'insert'), undefined);
});

test('insert mode: a foreign rule above ours makes ours go back on top (deleted by value, re-inserted)', () => {
  const plan = planHook('INPUT', input, saved('INPUT', ['-A INPUT -j ACCEPT', `-A INPUT -m comment --comment "cali:${INPUT_HOOK}" -j cali-INPUT`]), 'insert')!;
  assert.deepEqual(plan.lines, [`-D INPUT -m comment --comment "cali:${INPUT_HOOK}" -j cali-INPUT`, `-I INPUT -m comment --comment "cali:${INPUT_HOOK}" --jump cali-INPUT`]);
  assert.deepEqual(plan.after.hashes, [INPUT_HOOK, '']);
});

test('append mode: ours after the foreign rules; a rule of ours on top is out of place', () => {
  assert.equal(planHook('INPUT', input, saved('INPUT', ['-A INPUT -j KUBE-FIREWALL', `-A INPUT -m comment --comment "cali:${INPUT_HOOK}" -j cali-INPUT`]), 'append'), undefined);
  const plan = planHook('INPUT', input, saved('INPUT', [`-A INPUT -m comment --comment "cali:${INPUT_HOOK}" -j cali-INPUT`, '-A INPUT -j KUBE-FIREWALL']), 'append')!;
  assert.deepEqual(plan.lines, [`-D INPUT -m comment --comment "cali:${INPUT_HOOK}" -j cali-INPUT`, `-A INPUT -m comment --comment "cali:${INPUT_HOOK}" --jump cali-INPUT`]);
  assert.deepEqual(plan.after.hashes, ['', INPUT_HOOK]);
});

test('always-appended rules come last in both modes, hashed under <chain>*appends*', () => {
  const set: HookSet = {
    inserts: [rule([], ['--jump', 'cali-FORWARD'])],
    appends: [rule(['-m', 'mark', '--mark', '0x10000/0x10000'], ['--jump', 'ACCEPT'], 'Policy explicitly accepted packet.'), rule([], ['--jump', 'MARK', '--set-mark', '0x10000/0x10000'])],
  };
  for (const mode of ['insert', 'append'] as const) {
    const plan = planHook('FORWARD', set, saved('FORWARD', ['-A FORWARD -j DOCKER-USER']), mode)!;
    const expected = mode === 'insert' ? [FWD_HOOK, '', 'S93hcgKJrXEqnTfs', 'mp77cMpurHhyjLrM'] : ['', FWD_HOOK, 'S93hcgKJrXEqnTfs', 'mp77cMpurHhyjLrM'];
    assert.deepEqual(plan.after.hashes, expected, mode);
    assert.match(plan.lines.at(-1)!, /^-A FORWARD -m comment --comment "cali:mp77cMpurHhyjLrM" --jump MARK/);
  }
});

test('stale rules of ours in a chain we no longer hook are deleted by value; foreign ones stay', () => {
  const plan = planHook('OUTPUT', undefined, saved('OUTPUT', ['-A OUTPUT -j KUBE-X', '-A OUTPUT -m comment --comment "cali:oldoldoldoldold1" -j cali-OUTPUT']), 'insert')!;
  assert.deepEqual(plan.lines, ['-D OUTPUT -m comment --comment "cali:oldoldoldoldold1" -j cali-OUTPUT']);
  assert.deepEqual(plan.after.hashes, ['']);
});

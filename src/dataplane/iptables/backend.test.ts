import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CommandRunner, ExecResult } from '../exec.js';
import { binariesFor, countRuleLines, resolveBackend } from './backend.js';

/** Answers each save with canned output, keyed by the argv as one string. */
function runner(outputs: Record<string, string>, calls: string[] = []): CommandRunner {
  return {
    run(argv): Promise<ExecResult> {
      const key = argv.join(' ');
      calls.push(key);
      const out = outputs[key];
      return Promise.resolve(out === undefined ? { code: 0, stdout: '', stderr: '' } : { code: 0, stdout: out, stderr: '' });
    },
  };
}

const HINT = '*mangle\n:PREROUTING ACCEPT [0:0]\n:KUBE-IPTABLES-HINT - [0:0]\n:KUBE-KUBELET-CANARY - [0:0]\nCOMMIT\n';
const RULES = (n: number): string => `*filter\n:INPUT ACCEPT [0:0]\n${Array.from({ length: n }, (_, i) => `-A INPUT -s 10.0.0.${i}/32 -j ACCEPT\n`).join('')}COMMIT\n`;

test('kubelet hint chains in the nft mangle table mean nft', async () => {
  const r = await resolveBackend('auto', runner({ 'ip6tables-nft-save -t mangle': HINT, 'iptables-legacy-save': RULES(50) }));
  assert.equal(r.backend, 'nft');
  assert.match(r.reason, /KUBE-IPTABLES-HINT/);
});

test('kubelet hint chains in a full legacy save mean legacy; legacy is never asked for -t mangle', async () => {
  const calls: string[] = [];
  const r = await resolveBackend('auto', runner({ 'ip netns exec tt-ns iptables-legacy-save': HINT, 'ip netns exec tt-ns iptables-nft-save': RULES(5) }, calls), 'tt-ns');
  assert.equal(r.backend, 'legacy');
  assert.ok(calls.every((c) => c.startsWith('ip netns exec tt-ns ')));
  assert.ok(!calls.some((c) => c.includes('legacy-save -t')));
});

test('otherwise the rule counts of both families decide; a tie, and an empty host, give nft', async () => {
  assert.equal((await resolveBackend('auto', runner({ 'iptables-legacy-save': RULES(2), 'ip6tables-legacy-save': RULES(2), 'iptables-nft-save': RULES(3) }))).backend, 'legacy');
  assert.equal((await resolveBackend('auto', runner({ 'iptables-legacy-save': RULES(3), 'ip6tables-nft-save': RULES(3) }))).backend, 'nft');
  const empty = await resolveBackend('auto', runner({}));
  assert.equal(empty.backend, 'nft');
  assert.match(empty.reason, /no iptables rules/);
});

test('a backend that cannot run counts as empty', async () => {
  const failing: CommandRunner = { run: (argv) => (argv[0]!.includes('legacy') ? Promise.reject(new Error('ENOENT')) : Promise.resolve({ code: 0, stdout: RULES(1), stderr: '' })) };
  assert.equal((await resolveBackend('auto', failing)).backend, 'nft');
});

test('a configured backend is taken as is, with its binaries', async () => {
  const calls: string[] = [];
  const r = await resolveBackend('legacy', runner({}, calls));
  assert.equal(calls.length, 0);
  assert.deepEqual([r.save(4), r.restore(6), r.iptables(6)], ['iptables-legacy-save', 'ip6tables-legacy-restore', 'ip6tables-legacy']);
  assert.equal(binariesFor('nft').restore(4), 'iptables-nft-restore');
});

test('countRuleLines counts lines starting with -', () => {
  assert.equal(countRuleLines(RULES(7)), 7);
  assert.equal(countRuleLines('-A X\n-A Y'), 2);
  assert.equal(countRuleLines(''), 0);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { rule, type Chain } from '../rules/chain.js';
import { chainHashes } from '../rules/hash.js';
import type { HookRules } from '../rules/restore.js';
import { binariesFor } from './backend.js';
import { createIptablesMetrics } from './metrics.js';
import { IptablesTable, type IptablesTableOptions } from './table.js';
import { FakeIptables } from './test-helpers.js';

const INPUT_HOOK = 'Cz_u1IQiXIMmKD4c';

const hooks: HookRules[] = [
  { table: 'filter', chain: 'INPUT', rules: [rule([], ['--jump', 'cali-INPUT'])], mode: 'insert-or-append' },
  { table: 'nat', chain: 'POSTROUTING', rules: [rule([], ['--jump', 'cali-POSTROUTING'])], mode: 'append' },
];
const cInput: Chain = { name: 'cali-INPUT', rules: [rule(['-i', 'cali+'], ['--goto', 'cali-wl-to-host']), rule([], ['--jump', 'ACCEPT'])] };
const cWl: Chain = { name: 'cali-wl-to-host', rules: [rule(['-s', '10.0.0.1/32'], ['--jump', 'ACCEPT']), rule(['-s', '10.0.0.2/32'], ['--jump', 'ACCEPT']), rule([], ['--jump', 'DROP'])] };
const cUnused: Chain = { name: 'cali-pi-unused', rules: [rule([], ['--jump', 'ACCEPT'])] };

function newTable(k: FakeIptables, extra: Partial<IptablesTableOptions> = {}): IptablesTable {
  const t = new IptablesTable({ table: 'filter', ipVersion: 4, binaries: binariesFor('legacy'), runner: k, ...extra });
  t.updateChains([cInput, cWl, cUnused]);
  t.setHooks(hooks);
  return t;
}

const filterRules = (k: FakeIptables, chain: string, backend = 'legacy'): string[] => k.rules(backend, 4, 'filter', chain);

test('programs referenced chains and the hook in one transaction; an unreferenced chain is not written', async () => {
  const k = new FakeIptables();
  k.table('legacy', 4, 'filter').get('INPUT')!.rules.push('-j KUBE-FIREWALL');
  const t = newTable(k);
  await t.resync();
  const r = await t.applyUpdates();
  assert.equal(r.failures, 0);
  const restores = k.restoreCalls();
  assert.equal(restores.length, 1);
  const text = restores[0]!.input!;
  // New chains' forward references come before any rule, so jumps between them resolve.
  assert.ok(text.indexOf(':cali-wl-to-host - -') < text.indexOf('-A cali-INPUT'));
  assert.deepEqual(filterRules(k, 'INPUT'), [`-A INPUT -m comment --comment "cali:${INPUT_HOOK}" --jump cali-INPUT`, '-A INPUT -j KUBE-FIREWALL']);
  assert.equal(k.table('legacy', 4, 'filter').has('cali-pi-unused'), false);
  assert.equal(filterRules(k, 'cali-wl-to-host').length, 3);
  assert.equal(t.inSync, true);
  assert.equal(t.programmedChainCount, 2);
  assert.equal(t.programmedRuleCount, 6);
  // The legacy restore went through flock on the xtables lock, and its report was read.
  assert.equal(restores[0]!.argv[0], 'flock');
});

test('a second instance on the same kernel writes nothing', async () => {
  const k = new FakeIptables();
  const a = newTable(k);
  await a.applyUpdates(); // reads first by itself
  const before = k.restoreCalls().length;
  const b = newTable(k);
  const { drifted } = await b.resync();
  assert.equal(drifted, 0);
  assert.deepEqual(await b.applyUpdates(), { writes: 0, failures: 0, waiting: 0, errors: [] });
  assert.deepEqual(await b.applyDeletions(), { writes: 0, failures: 0, waiting: 0, errors: [] });
  assert.equal(k.restoreCalls().length, before);
  assert.equal(b.inSync, true);
});

test('nft spelling (unquoted hash comments) reads back the same: still nothing to write', async () => {
  const k = new FakeIptables();
  const a = newTable(k, { binaries: binariesFor('nft') });
  await a.applyUpdates();
  k.unquotedComments = true;
  const b = newTable(k, { binaries: binariesFor('nft') });
  await b.resync();
  assert.equal((await b.applyUpdates()).writes, 0);
  assert.equal(k.restoreCalls().length, 1);
  assert.equal(k.restoreCalls()[0]!.argv[0], 'iptables-nft-restore');
});

test('a changed rule is rewritten with -R; rules before it are not touched', async () => {
  const k = new FakeIptables();
  const t = newTable(k);
  await t.applyUpdates();
  const body = (): string[] => k.restoreCalls().at(-1)!.input!.split('\n').filter((l) => l !== '' && l !== '*filter' && l !== 'COMMIT');
  // The last rule: exactly one -R.
  const lastChanged: Chain = { ...cWl, rules: [cWl.rules[0]!, cWl.rules[1]!, rule([], ['--jump', 'REJECT'])] };
  t.updateChain(lastChanged);
  await t.applyUpdates();
  assert.deepEqual(body(), [`-R cali-wl-to-host 3 -m comment --comment "cali:${chainHashes(lastChanged)[2]}" --jump REJECT`]);
  // A middle rule: Felix's hashes chain each rule to the ones before it, so the rules after a
  // changed one change hash too and are replaced with it; the ones before are not.
  const midChanged: Chain = { ...lastChanged, rules: [cWl.rules[0]!, rule(['-s', '10.0.0.3/32'], ['--jump', 'ACCEPT']), lastChanged.rules[2]!] };
  t.updateChain(midChanged);
  await t.applyUpdates();
  const h = chainHashes(midChanged);
  assert.deepEqual(body(), [
    `-R cali-wl-to-host 2 -m comment --comment "cali:${h[1]}" -s 10.0.0.3/32 --jump ACCEPT`,
    `-R cali-wl-to-host 3 -m comment --comment "cali:${h[2]}" --jump REJECT`,
  ]);
});

test('tampering is found by resync and repaired; foreign chains and foreign rules in built-ins are left alone', async () => {
  const k = new FakeIptables();
  const t = newTable(k);
  await t.applyUpdates();
  const ft = k.table('legacy', 4, 'filter');
  ft.set('KUBE-SERVICES', { rules: ['-j RETURN'] });
  ft.get('cali-wl-to-host')!.rules.splice(1, 1); // a rule of ours deleted
  ft.get('cali-INPUT')!.rules.splice(1, 0, '-s 192.0.2.1/32 -j DROP'); // a foreign rule in our chain
  ft.get('INPUT')!.rules.unshift('-s 198.51.100.1/32 -j ACCEPT'); // a foreign rule above our hook
  const { drifted } = await t.resync();
  assert.equal(drifted, 3);
  assert.equal(t.inSync, false);
  assert.equal((await t.applyUpdates()).failures, 0);
  assert.equal((await t.applyDeletions()).failures, 0);

  const fresh = newTable(k);
  await fresh.resync();
  assert.equal(fresh.inSync, true, 'repaired state reads back as in sync');
  assert.deepEqual(filterRules(k, 'INPUT'), [`-A INPUT -m comment --comment "cali:${INPUT_HOOK}" --jump cali-INPUT`, '-A INPUT -s 198.51.100.1/32 -j ACCEPT']);
  assert.deepEqual(filterRules(k, 'KUBE-SERVICES'), ['-A KUBE-SERVICES -j RETURN']);
  assert.equal(filterRules(k, 'cali-INPUT').length, 2);
});

test('our hook deleted from INPUT is put back; a stale rule of ours in OUTPUT is removed', async () => {
  const k = new FakeIptables();
  const t = newTable(k);
  await t.applyUpdates();
  const ft = k.table('legacy', 4, 'filter');
  ft.get('INPUT')!.rules = [];
  ft.get('OUTPUT')!.rules.push('-m comment --comment "cali:staleStaleStale1" -j cali-INPUT', '-j ACCEPT');
  await t.resync();
  await t.applyUpdates();
  assert.deepEqual(filterRules(k, 'INPUT'), [`-A INPUT -m comment --comment "cali:${INPUT_HOOK}" --jump cali-INPUT`]);
  assert.deepEqual(filterRules(k, 'OUTPUT'), ['-A OUTPUT -j ACCEPT']);
});

test('append mode puts our hook after the foreign rules', async () => {
  const k = new FakeIptables();
  k.table('legacy', 4, 'filter').get('INPUT')!.rules.push('-j KUBE-FIREWALL');
  const t = newTable(k, { insertMode: 'append' });
  await t.applyUpdates();
  assert.deepEqual(filterRules(k, 'INPUT'), ['-A INPUT -j KUBE-FIREWALL', `-A INPUT -m comment --comment "cali:${INPUT_HOOK}" --jump cali-INPUT`]);
});

test('chains no longer referenced are deleted by the second pass, after the references are gone', async () => {
  const k = new FakeIptables();
  const t = newTable(k);
  await t.applyUpdates();
  // cali-INPUT stops going to cali-wl-to-host: the latter becomes unreferenced.
  t.updateChain({ name: 'cali-INPUT', rules: [rule([], ['--jump', 'ACCEPT'])] });
  assert.equal((await t.applyUpdates()).failures, 0);
  assert.ok(k.table('legacy', 4, 'filter').has('cali-wl-to-host'), 'updates never delete');
  assert.equal((await t.applyDeletions()).writes, 1);
  assert.equal(k.table('legacy', 4, 'filter').has('cali-wl-to-host'), false);
  assert.equal(t.programmedChainCount, 1);
  // A chain left behind by an earlier run is deleted too, even if it is desired but unreferenced.
  k.table('legacy', 4, 'filter').set('cali-pi-unused', { rules: ['-j ACCEPT'] });
  await t.resync();
  await t.applyDeletions();
  assert.equal(k.table('legacy', 4, 'filter').has('cali-pi-unused'), false);
});

test('a rejected transaction changes nothing, names the offending rule, counts, and a later valid update succeeds', async () => {
  const k = new FakeIptables();
  const registry = new Registry();
  const metrics = createIptablesMetrics(registry);
  const t = newTable(k, { metrics });
  await t.applyUpdates();
  const before = JSON.stringify([...k.table('legacy', 4, 'filter')]);
  t.updateChain({ ...cWl, rules: [rule(['-s', '10.9.9.9/32'], ['--jump', 'ACCEPT']), ...cWl.rules.slice(1)] });
  t.updateChain({ name: 'cali-INPUT', rules: [...cInput.rules, rule([], ['--jump', 'cali-bad'])] });
  t.updateChain({ name: 'cali-bad', rules: [rule(['-m', 'nonexistentmatch', '--foo'], ['--jump', 'ACCEPT'])] });
  const r = await t.applyUpdates();
  assert.equal(r.failures, 1);
  assert.match(r.errors[0]!, /-A cali-bad .*-m nonexistentmatch --foo --jump ACCEPT/);
  assert.match(r.errors[0]!, /nonexistentmatch/);
  assert.equal(JSON.stringify([...k.table('legacy', 4, 'filter')]), before);
  assert.equal(t.inSync, false);
  assert.equal((await metrics.restoreErrors.get()).values[0]!.value, 1);

  t.updateChain({ name: 'cali-bad', rules: [rule([], ['--jump', 'ACCEPT'])] });
  const saves = k.calls.filter((c) => c.argv.some((a) => a.endsWith('-save'))).length;
  const ok = await t.applyUpdates();
  assert.equal(ok.failures, 0);
  assert.equal(k.calls.filter((c) => c.argv.some((a) => a.endsWith('-save'))).length, saves + 1, 'a failure makes the next apply read the table back first');
  assert.match(filterRules(k, 'cali-wl-to-host')[0]!, /10\.9\.9\.9/);
  assert.equal(t.inSync, true);
});

test('a failure at COMMIT (a kernel refusal) is reported with the COMMIT line', async () => {
  const k = new FakeIptables();
  const t = newTable(k);
  k.failNextCommit = '';
  const r = await t.applyUpdates();
  assert.equal(r.failures, 1);
  assert.match(r.errors[0]!, /at line \d+: COMMIT/);
});

test('metrics: restore/save calls, chains and rules per table, lock wait from flock', async () => {
  const k = new FakeIptables();
  const registry = new Registry();
  const metrics = createIptablesMetrics(registry);
  assert.equal(createIptablesMetrics(registry).restoreCalls, metrics.restoreCalls, 'one set per registry');
  const t = newTable(k, { metrics });
  await t.applyUpdates();
  const value = async (name: string, labels: Record<string, string> = {}): Promise<number | undefined> => {
    const m = await registry.getSingleMetric(name)!.get();
    return m.values.find((v) => Object.entries(labels).every(([l, x]) => v.labels[l] === x))?.value;
  };
  assert.equal(await value('felix_iptables_restore_calls'), 1);
  assert.equal(await value('felix_iptables_save_calls'), 1);
  assert.equal(await value('felix_iptables_chains', { ip_version: '4', table: 'filter' }), 2);
  assert.equal(await value('felix_iptables_rules', { ip_version: '4', table: 'filter' }), 6);
  const lock = (await registry.getSingleMetric('felix_iptables_lock_acquire_secs')!.get()).values;
  assert.equal(lock.find((v) => (v as { metricName?: string }).metricName === 'felix_iptables_lock_acquire_secs_count')?.value, 1);
  assert.equal(lock.find((v) => (v as { metricName?: string }).metricName === 'felix_iptables_lock_acquire_secs_sum')?.value, 0.000002);
});

test('only cali- chains can be programmed, and hooks only go into chains that are not ours', () => {
  const t = new IptablesTable({ table: 'filter', ipVersion: 4, binaries: binariesFor('nft'), runner: new FakeIptables() });
  assert.throws(() => t.updateChain({ name: 'KUBE-SERVICES', rules: [] }), /not ours/);
  assert.throws(() => t.updateChain({ name: 'cali-' + 'x'.repeat(30), rules: [] }), /longer than 28/);
  assert.throws(() => t.setHooks([{ table: 'filter', chain: 'cali-INPUT', rules: [], mode: 'append' }]), /chain of ours/);
});

test('ip6tables binaries for IPv6 tables', async () => {
  const k = new FakeIptables();
  const t = newTable(k, { ipVersion: 6 });
  await t.applyUpdates();
  assert.ok(k.calls.every((c) => c.argv.some((a) => a.startsWith('ip6tables-legacy-'))));
  assert.equal(k.rules('legacy', 6, 'filter', 'INPUT').length, 1);
});

test('a big transaction is streamed into iptables-restore; its errors still name the line', async () => {
  const k = new FakeIptables();
  const big: Chain = { name: 'cali-big', rules: Array.from({ length: 6_000 }, (_, i) => rule(['-s', `10.0.${i >> 8}.${i & 255}/32`], ['--jump', 'ACCEPT'])) };
  const t = new IptablesTable({ table: 'filter', ipVersion: 4, binaries: binariesFor('nft'), runner: k });
  t.setHooks([{ table: 'filter', chain: 'INPUT', rules: [rule([], ['--jump', 'cali-big'])], mode: 'insert-or-append' }]);
  t.updateChain(big);
  assert.deepEqual((await t.applyUpdates()).errors, []);
  assert.equal(k.streamed.length, 1);
  assert.equal(filterRules(k, 'cali-big', 'nft').length, 6_000);
  assert.deepEqual(chainHashes(big).slice(-1), [/cali:([\w-]+)/.exec(filterRules(k, 'cali-big', 'nft').at(-1)!)![1]]);

  const bad: Chain = { name: 'cali-big2', rules: [...big.rules, rule(['-m', 'nonexistentmatch'], ['--jump', 'ACCEPT'])] };
  t.updateChain(bad);
  t.setHooks([{ table: 'filter', chain: 'INPUT', rules: [rule([], ['--jump', 'cali-big']), rule([], ['--jump', 'cali-big2'])], mode: 'insert-or-append' }]);
  const r = await t.applyUpdates();
  assert.equal(k.streamed.length, 2);
  assert.equal(r.failures, 1);
  assert.match(r.errors[0]!, /line 6003: -A cali-big2 -m comment --comment "cali:[\w-]+" -m nonexistentmatch --jump ACCEPT/);
});

test('changed hooks make the next apply read the table back first; the same hooks again do not', async () => {
  const k = new FakeIptables();
  const t = newTable(k);
  await t.applyUpdates();
  const saves = (): number => k.calls.filter((c) => c.argv.some((a) => a.endsWith('-save'))).length;
  const before = saves();
  t.setHooks(hooks);
  await t.applyUpdates();
  assert.equal(saves(), before);
  t.setHooks([...hooks, { table: 'filter', chain: 'OUTPUT', rules: [rule([], ['--jump', 'cali-INPUT'])], mode: 'insert-or-append' }]);
  await t.applyUpdates();
  assert.equal(saves(), before + 1);
  assert.equal(filterRules(k, 'OUTPUT').length, 1);
});

/**
 * IptablesTable against real iptables, on both backends (iptables-legacy and iptables-nft), each
 * in a namespace of its own (`tt-dp-<pid>-ipt-*`; nothing runs in the root namespace). Proves:
 * chains and hooks programmed in one transaction; a restarted table writes nothing; a changed rule
 * is rewritten with -R only; tampering (a rule of ours deleted, a foreign rule slipped into a chain
 * of ours, our hook deleted, a foreign rule inserted above our hook) repaired while foreign chains
 * and foreign rules stay; a rejected transaction — at parse time and at commit time — changes
 * nothing, names the offending rule, and a valid update then succeeds; unreferenced chains deleted;
 * ip6tables; cleanup removes everything of ours and nothing else; backend auto-detection; and a
 * process holding the xtables lock delays a legacy apply without losing it (on a private lock file,
 * never the host's /run/xtables.lock).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { ProcessRunner, type CommandRunner, type ExecResult } from '../../src/dataplane/exec.js';
import { rule, type Chain, type TableName } from '../../src/dataplane/rules/chain.js';
import { chainHashes } from '../../src/dataplane/rules/hash.js';
import type { HookRules } from '../../src/dataplane/rules/restore.js';
import { binariesFor, resolveBackend, type IptablesBinaries } from '../../src/dataplane/iptables/backend.js';
import { removeAllOwned } from '../../src/dataplane/iptables/cleanup.js';
import { createIptablesMetrics, type IptablesMetrics } from '../../src/dataplane/iptables/metrics.js';
import { IptablesTable } from '../../src/dataplane/iptables/table.js';
import { waitFor } from '../../src/lab/exec.js';
import { deleteAll, makeNs, nsName, requireRoot, sh, sweepStale } from './topology.js';

/** Records every command and its stdin, so tests can see exactly what was written. */
class RecordingRunner implements CommandRunner {
  readonly calls: { argv: readonly string[]; input?: string }[] = [];
  private readonly real = new ProcessRunner();
  run(argv: readonly string[], opts?: { input?: string; timeoutMs?: number }): Promise<ExecResult> {
    this.calls.push({ argv, input: opts?.input });
    return this.real.run(argv, opts);
  }
  restores(): string[] {
    return this.calls.filter((c) => c.argv.some((a) => a.endsWith('-restore'))).map((c) => c.input ?? '');
  }
}

/** The rule lines of one restore input, without the table header and COMMIT. */
const body = (input: string): string[] => input.split('\n').filter((l) => l !== '' && !l.startsWith('*') && l !== 'COMMIT');

const hooks: HookRules[] = [
  { table: 'filter', chain: 'INPUT', rules: [rule([], ['--jump', 'cali-INPUT'])], mode: 'insert-or-append' },
  { table: 'filter', chain: 'FORWARD', rules: [rule([], ['--jump', 'cali-FORWARD'])], mode: 'insert-or-append' },
  { table: 'filter', chain: 'FORWARD', rules: [rule(['-m', 'mark', '--mark', '0x10000/0x10000'], ['--jump', 'ACCEPT'], 'Policy explicitly accepted packet.')], mode: 'append' },
];
const cInput: Chain = { name: 'cali-INPUT', rules: [rule(['-i', 'cali+'], ['--goto', 'cali-wl-to-host']), rule([], ['--jump', 'ACCEPT'])] };
const cForward: Chain = { name: 'cali-FORWARD', rules: [rule(['-m', 'conntrack', '--ctstate', 'INVALID'], ['--jump', 'DROP']), rule([], ['--jump', 'MARK', '--set-mark', '0/0x10000'])] };
const cWl: Chain = {
  name: 'cali-wl-to-host',
  rules: [rule(['-s', '10.0.0.1/32'], ['--jump', 'ACCEPT']), rule(['-p', 'tcp', '-m', 'multiport', '--destination-ports', '22,80'], ['--jump', 'ACCEPT'], 'a free-text comment'), rule([], ['--jump', 'DROP'])],
};
const cUnused: Chain = { name: 'cali-pi-unused', rules: [rule([], ['--jump', 'ACCEPT'])] };

interface Env {
  ns: string;
  bin: IptablesBinaries;
}

function table(env: Env, runner: CommandRunner, opts: { ipVersion?: 4 | 6; table?: TableName; metrics?: IptablesMetrics; lockFile?: string; lockTimeoutMs?: number } = {}): IptablesTable {
  return new IptablesTable({
    table: opts.table ?? 'filter',
    ipVersion: opts.ipVersion ?? 4,
    binaries: env.bin,
    runner,
    netns: env.ns,
    metrics: opts.metrics,
    lockFile: opts.lockFile,
    lockTimeoutMs: opts.lockTimeoutMs,
  });
}

function wanted(t: IptablesTable, chains: Chain[] = [cInput, cForward, cWl, cUnused]): IptablesTable {
  t.updateChains(chains);
  t.setHooks(hooks);
  return t;
}

async function iptables(env: Env, v: 4 | 6, ...args: string[]): Promise<string> {
  const r = await sh(env.ns, env.bin.iptables(v), ...args);
  assert.equal(r.code, 0, `${env.bin.iptables(v)} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** `-S <chain>` rule lines (iptables' own spelling). */
async function rulesOf(env: Env, chain: string, v: 4 | 6 = 4, t = 'filter'): Promise<string[]> {
  return (await iptables(env, v, '-t', t, '-S', chain)).split('\n').filter((l) => l.startsWith('-A '));
}

/** The table as iptables-save prints it, without comments and counters (for before/after). */
async function snapshot(env: Env, v: 4 | 6 = 4, t = 'filter'): Promise<string> {
  const r = await sh(env.ns, env.bin.save(v), '-t', t);
  return r.stdout
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/, ''))
    .join('\n');
}

async function metricValue(registry: Registry, name: string, suffix = ''): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  const v = suffix === '' ? m.values[0] : m.values.find((x) => (x as { metricName?: string }).metricName === name + suffix);
  return v?.value ?? 0;
}

const namespaces: string[] = [];

before(async () => {
  requireRoot();
  await sweepStale();
});

after(async () => {
  await deleteAll(namespaces);
});

for (const backend of ['legacy', 'nft'] as const) {
  describe(`iptables-${backend}`, () => {
    const env: Env = { ns: nsName(`ipt-${backend}`), bin: binariesFor(backend) };

    before(async () => {
      namespaces.push(env.ns);
      await makeNs(env.ns);
      // Someone else's chain and rule, before we start: must survive everything below.
      await iptables(env, 4, '-N', 'KUBE-TEST');
      await iptables(env, 4, '-A', 'KUBE-TEST', '-s', '203.0.113.0/24', '-j', 'RETURN');
      await iptables(env, 4, '-A', 'INPUT', '-j', 'KUBE-TEST');
    });

    test('programs referenced chains and hooks in one transaction; an unreferenced chain is not written', async () => {
      const runner = new RecordingRunner();
      const t = wanted(table(env, runner));
      assert.equal((await t.resync()).drifted, 0);
      const r = await t.applyUpdates();
      assert.deepEqual(r.errors, []);
      assert.equal(runner.restores().length, 1);
      assert.equal((await t.applyDeletions()).writes, 0);

      const input = await rulesOf(env, 'INPUT');
      assert.match(input[0]!, /^-A INPUT -m comment --comment "?cali:Cz_u1IQiXIMmKD4c"? -j cali-INPUT$/);
      assert.equal(input[1], '-A INPUT -j KUBE-TEST');
      const forward = await rulesOf(env, 'FORWARD');
      assert.match(forward[0]!, /cali:wUHhoiAYhphO9Mso/);
      assert.match(forward[1]!, /cali:S93hcgKJrXEqnTfs/);
      const wl = await rulesOf(env, 'cali-wl-to-host');
      assert.deepEqual(
        wl.map((l) => /cali:([\w-]+)/.exec(l)?.[1]),
        chainHashes(cWl),
      );
      assert.match(wl[1]!, /a free-text comment/);
      assert.equal((await sh(env.ns, env.bin.iptables(4), '-S', 'cali-pi-unused')).code, 1, 'unreferenced chain not programmed');
      assert.equal(t.inSync, true);
      assert.equal(t.programmedChainCount, 3);
    });

    test('a second instance on the same kernel writes nothing', async () => {
      const runner = new RecordingRunner();
      const registry = new Registry();
      const t = wanted(table(env, runner, { metrics: createIptablesMetrics(registry) }));
      assert.equal((await t.resync()).drifted, 0);
      assert.equal((await t.applyUpdates()).writes, 0);
      assert.equal((await t.applyDeletions()).writes, 0);
      assert.equal(await metricValue(registry, 'felix_iptables_restore_calls'), 0);
      assert.equal(await metricValue(registry, 'felix_iptables_save_calls'), 1);
      assert.equal(t.inSync, true);
    });

    test('a changed rule is rewritten with -R only; several -R and -D in one transaction land right', async () => {
      const runner = new RecordingRunner();
      const t = wanted(table(env, runner));
      await t.resync();
      const last: Chain = { ...cWl, rules: [cWl.rules[0]!, cWl.rules[1]!, rule([], ['--jump', 'REJECT'])] };
      t.updateChain(last);
      await t.applyUpdates();
      assert.deepEqual(body(runner.restores()[0]!), [`-R cali-wl-to-host 3 -m comment --comment "cali:${chainHashes(last)[2]}" --jump REJECT`]);
      assert.match((await rulesOf(env, 'cali-wl-to-host'))[2]!, /-j REJECT/);

      // The first rule changes: every rule after it changes hash too (Felix's chained hashes).
      const first: Chain = { ...cWl, rules: [rule(['-s', '10.0.0.9/32'], ['--jump', 'ACCEPT']), ...cWl.rules.slice(1)] };
      t.updateChain(first);
      await t.applyUpdates();
      assert.deepEqual(body(runner.restores()[1]!).map((l) => l.split(' ').slice(0, 3).join(' ')), ['-R cali-wl-to-host 1', '-R cali-wl-to-host 2', '-R cali-wl-to-host 3']);
      // Shrink to one rule: deletes from the end.
      const one: Chain = { ...cWl, rules: [first.rules[0]!] };
      t.updateChain(one);
      await t.applyUpdates();
      assert.deepEqual(body(runner.restores()[2]!), ['-D cali-wl-to-host 3', '-D cali-wl-to-host 2']);
      // Back to the original, and a fresh read agrees with what we think we wrote.
      t.updateChain(cWl);
      await t.applyUpdates();
      const check = wanted(table(env, new RecordingRunner()));
      assert.equal((await check.resync()).drifted, 0);
      assert.equal(check.inSync, true);
    });

    test('tampering is repaired; foreign chains and foreign rules in built-ins are untouched', async () => {
      const runner = new RecordingRunner();
      const t = wanted(table(env, runner));
      await t.resync();
      await iptables(env, 4, '-D', 'cali-wl-to-host', '2'); // a rule of ours deleted
      await iptables(env, 4, '-I', 'cali-INPUT', '1', '-s', '192.0.2.1/32', '-j', 'DROP'); // a foreign rule in our chain
      await iptables(env, 4, '-D', 'INPUT', '1'); // our hook deleted
      await iptables(env, 4, '-I', 'FORWARD', '1', '-s', '198.51.100.1/32', '-j', 'ACCEPT'); // a foreign rule above our hook
      const { drifted } = await t.resync();
      assert.equal(drifted, 4);
      assert.equal(t.inSync, false);
      assert.deepEqual((await t.applyUpdates()).errors, []);
      assert.equal(runner.restores().length, 1, 'all repairs in one transaction');

      const input = await rulesOf(env, 'INPUT');
      assert.match(input[0]!, /cali:Cz_u1IQiXIMmKD4c/);
      assert.equal(input[1], '-A INPUT -j KUBE-TEST');
      const forward = await rulesOf(env, 'FORWARD');
      assert.match(forward[0]!, /cali:wUHhoiAYhphO9Mso/, 'ours back on top (insert mode)');
      assert.equal(forward[1], '-A FORWARD -s 198.51.100.1/32 -j ACCEPT', 'the foreign rule stays, now below ours');
      assert.match(forward[2]!, /cali:S93hcgKJrXEqnTfs/);
      assert.deepEqual(await rulesOf(env, 'KUBE-TEST'), ['-A KUBE-TEST -s 203.0.113.0/24 -j RETURN']);
      assert.ok(!(await rulesOf(env, 'cali-INPUT')).some((l) => l.includes('192.0.2.1')));

      const check = wanted(table(env, new RecordingRunner()));
      await check.resync();
      assert.equal(check.inSync, true);
      assert.equal((await check.applyUpdates()).writes, 0);
    });

    test('a rejected transaction changes nothing, names the offending rule, and a later valid update succeeds', async () => {
      const registry = new Registry();
      const t = wanted(table(env, new RecordingRunner(), { metrics: createIptablesMetrics(registry) }));
      await t.resync();
      const before = await snapshot(env);

      // Parse-time refusal: an unknown match module, in a new chain referenced from a changed one,
      // alongside a valid change to an existing chain.
      t.updateChain({ ...cWl, rules: [rule(['-s', '10.7.7.7/32'], ['--jump', 'ACCEPT']), ...cWl.rules.slice(1)] });
      t.updateChain({ name: 'cali-INPUT', rules: [...cInput.rules.slice(0, 1), rule([], ['--jump', 'cali-bad']), ...cInput.rules.slice(1)] });
      t.updateChain({ name: 'cali-bad', rules: [rule(['-m', 'nonexistentmatch'], ['--jump', 'ACCEPT'])] });
      const r = await t.applyUpdates();
      assert.equal(r.failures, 1);
      assert.match(r.errors[0]!, /-A cali-bad -m comment --comment "cali:[\w-]+" -m nonexistentmatch --jump ACCEPT/);
      assert.equal(await snapshot(env), before, 'nothing of the transaction was applied');
      assert.equal(await metricValue(registry, 'felix_iptables_restore_errors'), 1);

      // Commit-time refusal: DNAT is only valid in the nat table; the kernel says so at commit.
      t.updateChain({ name: 'cali-bad', rules: [rule(['-p', 'tcp'], ['--jump', 'DNAT', '--to-destination', '10.1.1.1'])] });
      const r2 = await t.applyUpdates();
      assert.equal(r2.failures, 1);
      assert.match(r2.errors[0]!, backend === 'nft' ? /line \d+: -A cali-bad .*DNAT/ : /line \d+: COMMIT/);
      assert.equal(await snapshot(env), before, 'nothing of the transaction was applied');

      t.updateChain({ name: 'cali-bad', rules: [rule([], ['--jump', 'RETURN'])] });
      assert.deepEqual((await t.applyUpdates()).errors, []);
      assert.match((await rulesOf(env, 'cali-wl-to-host'))[0]!, /10\.7\.7\.7/);
      assert.equal(t.inSync, true);
      // Restore the shared state for the next tests.
      t.updateChains([cInput, cWl]);
      t.removeChain('cali-bad');
      await t.applyUpdates();
      await t.applyDeletions();
      assert.equal((await sh(env.ns, env.bin.iptables(4), '-S', 'cali-bad')).code, 1);
    });

    test('chains no longer referenced, and hooks no longer wanted, are removed; foreign rules stay', async () => {
      const t = wanted(table(env, new RecordingRunner()));
      await t.resync();
      t.updateChain({ name: 'cali-INPUT', rules: [rule([], ['--jump', 'ACCEPT'])] });
      await t.applyUpdates();
      assert.equal((await t.applyDeletions()).writes, 1);
      assert.equal((await sh(env.ns, env.bin.iptables(4), '-S', 'cali-wl-to-host')).code, 1);

      t.setHooks([]);
      await t.applyUpdates();
      await t.applyDeletions();
      assert.deepEqual(await rulesOf(env, 'INPUT'), ['-A INPUT -j KUBE-TEST']);
      assert.deepEqual(await rulesOf(env, 'FORWARD'), ['-A FORWARD -s 198.51.100.1/32 -j ACCEPT']);
      assert.ok(!(await snapshot(env)).includes('cali'));
      assert.equal(t.programmedChainCount, 0);
    });

    test('ip6tables: the same on the IPv6 tables', async () => {
      const runner = new RecordingRunner();
      const t = wanted(table(env, runner, { ipVersion: 6 }), [cInput, cForward]);
      t.updateChain({ ...cWl, rules: [rule(['-s', '2001:db8::1/128'], ['--jump', 'ACCEPT'])] });
      assert.deepEqual((await t.applyUpdates()).errors, []);
      assert.ok(runner.calls.every((c) => c.argv.some((a) => a.startsWith('ip6tables-'))));
      assert.match((await rulesOf(env, 'INPUT', 6))[0]!, /cali:Cz_u1IQiXIMmKD4c/);
      assert.match((await rulesOf(env, 'cali-wl-to-host', 6))[0]!, /2001:db8::1\/128/);
      const again = wanted(table(env, new RecordingRunner(), { ipVersion: 6 }), [cInput, cForward]);
      again.updateChain({ ...cWl, rules: [rule(['-s', '2001:db8::1/128'], ['--jump', 'ACCEPT'])] });
      await again.resync();
      assert.equal(again.inSync, true);
    });

    test('cleanup removes every chain and hash-commented rule of ours in all tables, and nothing else', async () => {
      const runner = new ProcessRunner();
      for (const v of [4, 6] as const) {
        for (const name of ['filter', 'nat', 'mangle', 'raw'] as const) {
          const t = table(env, runner, { ipVersion: v, table: name });
          const builtin = name === 'filter' ? 'OUTPUT' : 'PREROUTING';
          t.updateChain({ name: 'cali-x', rules: [rule([], ['--jump', 'cali-y'])] });
          t.updateChain({ name: 'cali-y', rules: [rule([], ['--jump', 'RETURN'])] });
          t.setHooks([{ table: name, chain: builtin, rules: [rule([], ['--jump', 'cali-x'])], mode: 'insert-or-append' }]);
          assert.deepEqual((await t.applyUpdates()).errors, []);
        }
      }
      await iptables(env, 4, '-t', 'nat', '-A', 'PREROUTING', '-j', 'RETURN');
      const r = await removeAllOwned({ binaries: env.bin, runner, netns: env.ns });
      assert.deepEqual(r.errors, []);
      for (const v of [4, 6] as const) {
        const all = (await sh(env.ns, env.bin.save(v))).stdout;
        assert.ok(!all.includes('cali'), `IPv${v}: nothing of ours left:\n${all}`);
      }
      assert.deepEqual(await rulesOf(env, 'PREROUTING', 4, 'nat'), ['-A PREROUTING -j RETURN']);
      assert.deepEqual(await rulesOf(env, 'INPUT'), ['-A INPUT -j KUBE-TEST']);
      assert.deepEqual(await rulesOf(env, 'KUBE-TEST'), ['-A KUBE-TEST -s 203.0.113.0/24 -j RETURN']);
    });
  });
}

describe('backend auto-detection', () => {
  const runner = new ProcessRunner();
  const legacyNs = nsName('ipt-det-l');
  const nftNs = nsName('ipt-det-n');
  const emptyNs = nsName('ipt-det-e');

  before(async () => {
    for (const ns of [legacyNs, nftNs, emptyNs]) {
      namespaces.push(ns);
      await makeNs(ns);
    }
    assert.equal((await sh(legacyNs, 'iptables-legacy', '-A', 'INPUT', '-j', 'ACCEPT')).code, 0);
    assert.equal((await sh(nftNs, 'iptables-nft', '-A', 'INPUT', '-j', 'ACCEPT')).code, 0);
  });

  test('a legacy rule → legacy; an nft rule → nft; nothing → nft', async () => {
    const l = await resolveBackend('auto', runner, legacyNs);
    assert.equal(l.backend, 'legacy', l.reason);
    assert.equal(l.restore(4), 'iptables-legacy-restore');
    const n = await resolveBackend('auto', runner, nftNs);
    assert.equal(n.backend, 'nft', n.reason);
    const e = await resolveBackend('auto', runner, emptyNs);
    assert.equal(e.backend, 'nft', e.reason);
    assert.match(e.reason, /no iptables rules/);
  });

  test('kubelet hint chain in nft mangle wins over more legacy rules', async () => {
    assert.equal((await sh(legacyNs, 'iptables-legacy', '-A', 'INPUT', '-j', 'ACCEPT')).code, 0);
    assert.equal((await sh(legacyNs, 'iptables-nft', '-t', 'mangle', '-N', 'KUBE-IPTABLES-HINT')).code, 0);
    const r = await resolveBackend('auto', runner, legacyNs);
    assert.equal(r.backend, 'nft', r.reason);
  });
});

describe('xtables lock (legacy, on a private lock file)', () => {
  const env: Env = { ns: nsName('ipt-lock'), bin: binariesFor('legacy') };
  const dir = mkdtempSync(join(tmpdir(), 'tortie-xtables-'));
  const lockFile = join(dir, 'xtables.lock');
  let holder: ChildProcess | undefined;

  before(async () => {
    namespaces.push(env.ns);
    await makeNs(env.ns);
  });

  after(() => {
    holder?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts `flock <file> sleep <s>` and waits until it holds the lock. */
  async function holdLock(seconds: number): Promise<ChildProcess> {
    const child = spawn('flock', [lockFile, 'sleep', String(seconds)], { stdio: 'ignore' });
    await waitFor(async () => (await sh(env.ns, 'flock', '--nonblock', lockFile, 'true')).code !== 0, { timeoutMs: 5_000, what: 'the lock holder to take the lock' });
    return child;
  }

  test('a lock held past the timeout fails the apply cleanly; held for 5 s it delays the apply; nothing is lost', async () => {
    const registry = new Registry();
    const metrics = createIptablesMetrics(registry);
    const short = wanted(table(env, new ProcessRunner(), { lockFile, lockTimeoutMs: 1_000, metrics }));
    holder = await holdLock(5);
    const exited = new Promise((resolve) => holder!.once('exit', resolve));

    const r = await short.applyUpdates();
    assert.equal(r.failures, 1);
    assert.match(r.errors[0]!, /xtables lock .* held by another process/);
    assert.ok(!(await snapshot(env)).includes('cali'), 'nothing written while the lock was held');

    const patient = wanted(table(env, new ProcessRunner(), { lockFile, lockTimeoutMs: 20_000, metrics }));
    const ok = await patient.applyUpdates();
    assert.deepEqual(ok.errors, []);
    await exited;
    assert.match((await rulesOf(env, 'INPUT'))[0]!, /cali:Cz_u1IQiXIMmKD4c/);
    assert.equal((await rulesOf(env, 'cali-wl-to-host')).length, 3);
    assert.equal(await metricValue(registry, 'felix_iptables_lock_acquire_secs', '_count'), 1);
    assert.ok((await metricValue(registry, 'felix_iptables_lock_acquire_secs', '_sum')) > 0, 'the lock wait was measured');
    assert.equal(await metricValue(registry, 'felix_iptables_lock_retries'), 1);
  });
});

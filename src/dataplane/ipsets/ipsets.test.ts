/**
 * IpSets against a fake `ipset` that records every command and its stdin and keeps sets the way
 * the kernel does, with the kernel's refusals as ipset v7.17 words them (create of an existing
 * set, add of a present member, swap across types, destroy of a set in use, a full set). It is
 * seeded from canned `ipset save` text in the real tool's format. Expected restore lines are
 * written out literally here, not produced by the code under test.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { CommandRunner, ExecResult, StreamingCommand } from '../exec.js';
import { IpSets, type IpSetsOptions } from './ipsets.js';
import { createIpSetsMetrics } from './metrics.js';

interface FakeSet {
  type: string;
  family: string;
  maxelem: number;
  members: Set<string>;
  /** iptables rules referring to it. */
  refs: number;
  extra: string;
}

interface Call {
  argv: string[];
  input?: string;
}

class FakeIpset implements CommandRunner {
  readonly sets = new Map<string, FakeSet>();
  readonly calls: Call[] = [];
  /** Members the "kernel" refuses (to provoke a failure on a chosen line). */
  readonly refuse = new Set<string>();
  start?: CommandRunner['start'];
  /** Chunks written through start(), to see that a big script is streamed. */
  chunks = 0;

  constructor(opts: { streaming?: boolean } = {}) {
    if (opts.streaming) {
      this.start = (argv): StreamingCommand => {
        const parts: string[] = [];
        return {
          write: (d) => {
            parts.push(d);
            this.chunks++;
            return Promise.resolve();
          },
          end: () => this.run(argv, { input: parts.join('') }),
          kill: () => undefined,
        };
      };
    }
  }

  /** Seeds the kernel from `ipset save` text. */
  load(text: string): this {
    for (const line of text.split('\n')) {
      const w = line.split(' ');
      if (w[0] === 'create') {
        const opt = (k: string): string => w[w.indexOf(k) + 1] ?? '';
        const extra = w.slice(3).filter((x, i, a) => !['family', 'hashsize', 'maxelem', 'bucketsize', 'initval'].includes(x) && !['family', 'hashsize', 'maxelem', 'bucketsize', 'initval'].includes(a[i - 1] ?? ''));
        this.sets.set(w[1]!, { type: w[2]!, family: opt('family'), maxelem: Number(opt('maxelem')), members: new Set(), refs: 0, extra: extra.join(' ') });
      } else if (w[0] === 'add') {
        this.sets.get(w[1]!)!.members.add(w.slice(2).join(' '));
      }
    }
    return this;
  }

  save(): string {
    const out: string[] = [];
    for (const [name, s] of this.sets) {
      out.push(`create ${name} ${s.type} family ${s.family} hashsize 1024 maxelem ${s.maxelem}${s.extra ? ` ${s.extra}` : ''} bucketsize 12 initval 0x5a8e1c2f`);
      for (const m of s.members) out.push(`add ${name} ${m}`);
    }
    return out.length ? `${out.join('\n')}\n` : '';
  }

  members(name: string): string[] {
    return [...(this.sets.get(name)?.members ?? [])].sort();
  }

  /** Calls that change something (everything but `save`). */
  writes(): Call[] {
    return this.calls.filter((c) => c.argv[c.argv.indexOf('ipset') + 1] !== 'save');
  }

  /** stdin lines of all restores so far. */
  restoreLines(): string[] {
    return this.writes()
      .filter((c) => c.argv.includes('restore'))
      .flatMap((c) => (c.input ?? '').split('\n').filter(Boolean));
  }

  clearCalls(): void {
    this.calls.length = 0;
  }

  run(argv: readonly string[], opts: { input?: string } = {}): Promise<ExecResult> {
    this.calls.push({ argv: [...argv], input: opts.input });
    const i = argv.indexOf('ipset');
    assert.ok(i >= 0, `not an ipset command: ${argv.join(' ')}`);
    const [cmd, ...args] = argv.slice(i + 1);
    const ok = (stdout = ''): Promise<ExecResult> => Promise.resolve({ code: 0, stdout, stderr: '' });
    const fail = (msg: string): Promise<ExecResult> => Promise.resolve({ code: 1, stdout: '', stderr: `ipset v7.17: ${msg}\n` });
    if (cmd === 'save') return ok(this.save());
    if (cmd === 'destroy') {
      const e = this.exec(['destroy', ...args]);
      return e ? fail(e) : ok();
    }
    if (cmd === 'restore') {
      const lines = (opts.input ?? '').split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      for (let n = 0; n < lines.length; n++) {
        const e = this.exec(lines[n]!.split(' '));
        if (e) return fail(`Error in line ${n + 1}: ${e}`);
      }
      return ok();
    }
    return fail(`unknown command ${cmd}`);
  }

  /** One command; returns the kernel's refusal, if any. */
  private exec(w: string[]): string | undefined {
    const exist = w[w.length - 1] === '-exist';
    if (exist) w = w.slice(0, -1);
    const [cmd, name, a, ...rest] = w;
    const s = this.sets.get(name!);
    switch (cmd) {
      case 'create': {
        if (s) return 'Set cannot be created: set with the same name already exists';
        const opt = (k: string): string => rest[rest.indexOf(k) + 1] ?? '';
        this.sets.set(name!, { type: a!, family: opt('family'), maxelem: Number(opt('maxelem') || 65536), members: new Set(), refs: 0, extra: '' });
        return undefined;
      }
      case 'add':
        if (!s) return 'The set with the given name does not exist';
        if (this.refuse.has(a!)) return `Syntax error: cannot parse ${a}: resolving to IPv4 address failed`;
        if (s.members.has(a!)) return exist ? undefined : "Element cannot be added to the set: it's already added";
        if (s.members.size >= s.maxelem) return 'Hash is full, cannot add more elements';
        s.members.add(a!);
        return undefined;
      case 'del':
        if (!s) return 'The set with the given name does not exist';
        if (!s.members.delete(a!) && !exist) return "Element cannot be deleted from the set: it's not added";
        return undefined;
      case 'swap': {
        const t = this.sets.get(a!);
        if (!s) return 'The set with the given name does not exist';
        if (!t) return 'Sets cannot be swapped: the second set does not exist';
        if (s.type !== t.type || s.family !== t.family) return 'The sets cannot be swapped: their type does not match';
        // References stay with the name (the rule keeps matching "its" set, now with new content).
        const [sr, tr] = [s.refs, t.refs];
        this.sets.set(name!, { ...t, refs: sr });
        this.sets.set(a!, { ...s, refs: tr });
        return undefined;
      }
      case 'destroy':
        if (!s) return 'The set with the given name does not exist';
        if (s.refs > 0) return 'Set cannot be destroyed: it is in use by a kernel component';
        this.sets.delete(name!);
        return undefined;
    }
    return `unknown command ${cmd}`;
  }
}

function make(fake: FakeIpset, opts: Partial<IpSetsOptions> = {}): IpSets {
  return new IpSets({ runner: fake, ipVersion: 4, ...opts });
}

async function converge(s: IpSets): Promise<void> {
  const u = await s.applyUpdates();
  assert.equal(u.failures, 0, u.errors.join('; '));
  const d = await s.applyDeletions();
  assert.equal(d.failures, 0, d.errors.join('; '));
}

/** What the real tool printed for sets like these (ipset v7.17), foreign sets included. */
const CANNED_SAVE = `create cali40s:web hash:ip family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x0ef7793c
add cali40s:web 10.65.0.5
add cali40s:web 10.65.1.5
create cali40n:nets hash:net family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x6d220583
add cali40n:nets 10.0.1.0/24
add cali40n:nets 10.0.0.1
create cali40p:dns hash:ip,port family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0xb1423ea9
add cali40p:dns 10.96.0.10,udp:53
add cali40p:dns 10.96.0.10,tcp:53
create cali60s:web hash:ip family inet6 hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x8b1687a6
add cali60s:web fd00::5
create KUBE-xyz hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x734fc3df
add KUBE-xyz 10.0.0.9
create cali-foo hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0xd9237672
add cali-foo 10.0.0.8
`;

const TEN = Array.from({ length: 10 }, (_, i) => `10.65.5.${i + 1}`);

function desireCanned(s: IpSets): void {
  // Members in the calc's (non-canonical, mixed-family) spelling.
  s.setDesired('s:web', 'ip', ['10.65.0.5', 'fd00::5', '10.65.1.5']);
  s.setDesired('n:nets', 'net', ['10.0.0.1/32', '10.0.1.0/24']);
  s.setDesired('p:dns', 'ip-port', ['10.96.0.10,udp:53', '10.96.0.10,TCP:53', 'fd00::10,udp:53']);
}

describe('IpSets', () => {
  test('a kernel that already matches is left alone: zero writes after resync (restart)', async () => {
    const fake = new FakeIpset().load(CANNED_SAVE);
    const s = make(fake);
    desireCanned(s);
    assert.equal(s.inSync, false, 'nothing is known before the first resync');
    assert.deepEqual(await s.resync(), { drifted: 0 });
    assert.equal(s.inSync, true);
    fake.clearCalls();
    const u = await s.applyUpdates();
    const d = await s.applyDeletions();
    assert.deepEqual(u, { writes: 0, failures: 0, waiting: 0, errors: [] });
    assert.deepEqual(d, { writes: 0, failures: 0, waiting: 0, errors: [] });
    assert.deepEqual(fake.calls, [], 'not even a process is started');
  });

  test('v4 keeps IPv4 members only, v6 IPv6 only; a set with none of its family is still created', async () => {
    const fake = new FakeIpset();
    const v4 = make(fake);
    const v6 = make(fake, { ipVersion: 6 });
    for (const s of [v4, v6]) {
      s.setDesired('a', 'ip', ['10.0.0.1', 'fd00::1', '10.0.0.2']);
      s.setDesired('p', 'ip-port', ['10.0.0.1,tcp:80', 'fd00::1,tcp:80']);
      s.setDesired('only6', 'net', ['fd00::/64']);
      await s.resync();
      await converge(s);
    }
    assert.deepEqual(fake.members('cali40a'), ['10.0.0.1', '10.0.0.2']);
    assert.deepEqual(fake.members('cali60a'), ['fd00::1']);
    assert.deepEqual(fake.members('cali40p'), ['10.0.0.1,tcp:80']);
    assert.deepEqual(fake.members('cali60p'), ['fd00::1,tcp:80']);
    assert.deepEqual(fake.members('cali40only6'), []);
    assert.deepEqual(fake.members('cali60only6'), ['fd00::/64']);
    assert.equal(fake.sets.get('cali60a')!.family, 'inet6');
    assert.equal(fake.sets.get('cali40p')!.type, 'hash:ip,port');
    // Each reconciler read the other family's sets without adopting or destroying them.
    assert.equal(fake.sets.size, 6);
  });

  test('a missing set is created with its members in one restore', async () => {
    const fake = new FakeIpset();
    const s = make(fake, { maxSize: 4096 });
    s.setDesired('x', 'net', ['10.0.0.0/24', '10.1.0.7/16']);
    await s.resync();
    const u = await s.applyUpdates();
    assert.deepEqual(u, { writes: 3, failures: 0, waiting: 0, errors: [] });
    assert.deepEqual(fake.restoreLines(), ['create cali40x hash:net family inet maxelem 4096', 'add cali40x 10.0.0.0/24', 'add cali40x 10.1.0.0/16']);
    assert.equal(s.inSync, true);
  });

  test('a one-member delta writes one line', async () => {
    const fake = new FakeIpset().load(CANNED_SAVE);
    const s = make(fake);
    desireCanned(s);
    await s.resync();
    fake.clearCalls();
    s.addMembers('s:web', ['10.65.2.5', 'fd00::6']);
    assert.equal(s.inSync, false);
    assert.equal((await s.applyUpdates()).writes, 1);
    assert.deepEqual(fake.restoreLines(), ['add cali40s:web 10.65.2.5 -exist']);
    fake.clearCalls();
    s.removeMembers('n:nets', ['10.0.0.1']);
    assert.equal((await s.applyUpdates()).writes, 1);
    assert.deepEqual(fake.restoreLines(), ['del cali40n:nets 10.0.0.1 -exist']);
    // Removing what is not there, or another family's member, writes nothing.
    fake.clearCalls();
    s.removeMembers('s:web', ['10.99.0.1', 'fd00::5']);
    assert.equal((await s.applyUpdates()).writes, 0);
    assert.deepEqual(fake.calls, []);
    assert.equal(s.inSync, true);
  });

  test('added then removed before an apply: nothing is written', async () => {
    const fake = new FakeIpset().load(CANNED_SAVE);
    const s = make(fake);
    desireCanned(s);
    await s.resync();
    fake.clearCalls();
    s.addMembers('s:web', ['10.65.9.9']);
    s.removeMembers('s:web', ['10.65.9.9']);
    assert.equal(s.inSync, true);
    await s.applyUpdates();
    assert.deepEqual(fake.calls, []);
  });

  test('mostly changed content is rewritten in a temporary set and swapped in', async () => {
    const fake = new FakeIpset().load(CANNED_SAVE);
    fake.sets.get('cali40s:web')!.refs = 1; // in use by a rule: the swap keeps it working
    const s = make(fake);
    desireCanned(s);
    await s.resync();
    // 2 members → 8 others: 8 adds and 2 dels (10 lines) are shorter than a rewrite (11).
    s.setDesired('s:web', 'ip', TEN.slice(0, 8));
    await s.applyUpdates();
    assert.equal(fake.restoreLines().length, 10);
    assert.ok(fake.restoreLines().every((l) => / cali40s:web .* -exist$/.test(l)));
    // Replacing them all with 3 others: 11 delta lines against a 6-line rewrite.
    fake.clearCalls();
    s.setDesired('s:web', 'ip', ['10.65.7.1', '10.65.7.2', '10.65.7.3']);
    const u = await s.applyUpdates();
    assert.equal(u.failures, 0, u.errors.join());
    assert.deepEqual(fake.restoreLines(), [
      'create cali4ts:web hash:ip family inet maxelem 1048576',
      'add cali4ts:web 10.65.7.1',
      'add cali4ts:web 10.65.7.2',
      'add cali4ts:web 10.65.7.3',
      'swap cali40s:web cali4ts:web',
      'destroy cali4ts:web',
    ]);
    assert.deepEqual(fake.members('cali40s:web'), ['10.65.7.1', '10.65.7.2', '10.65.7.3']);
    assert.equal(fake.sets.get('cali40s:web')!.refs, 1);
    assert.equal(fake.sets.has('cali4ts:web'), false);
    // A few changes stay deltas.
    fake.clearCalls();
    s.setDesired('s:web', 'ip', ['10.65.7.1', '10.65.7.2', '10.65.7.4']);
    await s.applyUpdates();
    assert.deepEqual(fake.restoreLines(), ['del cali40s:web 10.65.7.3 -exist', 'add cali40s:web 10.65.7.4 -exist']);
  });

  test('a changed maxSize is applied by rewrite and swap (ipset swaps sets of different maxelem)', async () => {
    const fake = new FakeIpset().load(CANNED_SAVE);
    const s = make(fake, { maxSize: 65536 });
    desireCanned(s);
    assert.equal((await s.resync()).drifted, 0);
    await converge(s);
    assert.equal(fake.sets.get('cali40s:web')!.maxelem, 65536);
    assert.deepEqual(fake.members('cali40s:web'), ['10.65.0.5', '10.65.1.5']);
    assert.ok(fake.restoreLines().includes('swap cali40s:web cali4ts:web'));
    assert.equal(fake.sets.get('KUBE-xyz')!.maxelem, 65536, 'foreign set untouched');
  });

  test('a leftover temporary set is destroyed before the rewrite that needs its name, and leftovers go in applyDeletions', async () => {
    const fake = new FakeIpset().load(
      CANNED_SAVE +
        'create cali4ts:web hash:ip family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x1\nadd cali4ts:web 10.9.9.9\n' +
        'create cali4t0 hash:ip family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x2\n' +
        'create cali40gone hash:net family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x3\n',
    );
    const s = make(fake);
    desireCanned(s);
    await s.resync();
    assert.equal(s.inSync, false, 'leftovers are pending');
    // 2 other members than the kernel's 2: 4 delta lines against a 5-line rewrite; a maxelem
    // change forces the rewrite.
    s.setDesired('s:web', 'ip', ['10.65.7.1']);
    fake.sets.get('cali40s:web')!.maxelem = 65536;
    await s.resync();
    fake.clearCalls();
    const u = await s.applyUpdates();
    assert.equal(u.failures, 0, u.errors.join());
    assert.deepEqual(fake.restoreLines().slice(0, 2), ['destroy cali4ts:web', 'create cali4ts:web hash:ip family inet maxelem 1048576']);
    assert.deepEqual(fake.members('cali40s:web'), ['10.65.7.1']);
    fake.clearCalls();
    const d = await s.applyDeletions();
    assert.deepEqual(d, { writes: 2, failures: 0, waiting: 0, errors: [] });
    assert.deepEqual(fake.restoreLines().sort(), ['destroy cali40gone', 'destroy cali4t0']);
    assert.deepEqual([...fake.sets.keys()].sort(), ['KUBE-xyz', 'cali-foo', 'cali40n:nets', 'cali40p:dns', 'cali40s:web', 'cali60s:web']);
    assert.equal(s.inSync, true);
  });

  test('foreign sets are never written, destroyed or read past their name', async () => {
    const fake = new FakeIpset().load(CANNED_SAVE);
    const v4 = make(fake);
    await v4.resync(); // nothing desired: every cali40 set is a leftover
    await converge(v4);
    for (const c of fake.writes()) {
      const text = `${c.argv.join(' ')}\n${c.input ?? ''}`;
      for (const foreign of ['KUBE-xyz', 'cali-foo', 'cali60s:web']) assert.ok(!text.includes(foreign), `${foreign} in ${text}`);
    }
    assert.deepEqual([...fake.sets.keys()].sort(), ['KUBE-xyz', 'cali-foo', 'cali60s:web']);
    assert.deepEqual(fake.members('KUBE-xyz'), ['10.0.0.9']);
  });

  test('a removed set is destroyed; one still in use waits, is reported once and retried after the next resync', async () => {
    const fake = new FakeIpset().load(CANNED_SAVE);
    const s = make(fake);
    desireCanned(s);
    await s.resync();
    s.remove('s:web');
    s.remove('n:nets');
    assert.equal(s.isDesired('s:web'), false);
    assert.equal(s.desiredCount, 1);
    fake.sets.get('cali40s:web')!.refs = 1;
    assert.equal((await s.applyUpdates()).writes, 0);
    const d1 = await s.applyDeletions();
    assert.equal(d1.failures, 0);
    assert.equal(d1.waiting, 1);
    assert.equal(d1.writes, 1);
    assert.equal(d1.errors.length, 1);
    assert.match(d1.errors[0]!, /cali40s:web.*still referenced/);
    assert.equal(fake.sets.has('cali40n:nets'), false);
    assert.equal(s.inSync, true, 'a set nobody wants but a rule still holds does not make us unready');
    fake.clearCalls();
    const d2 = await s.applyDeletions();
    assert.deepEqual(fake.calls, [], 'not retried before the next resync');
    assert.equal(d2.errors.length, 0);
    await s.resync();
    const d3 = await s.applyDeletions();
    assert.equal(d3.waiting, 1);
    assert.deepEqual(d3.errors, [], 'reported once');
    fake.sets.get('cali40s:web')!.refs = 0; // the iptables side dropped its rule
    await s.resync();
    assert.equal((await s.applyDeletions()).writes, 1);
    assert.equal(fake.sets.has('cali40s:web'), false);
  });

  test('several deletions with one in use in the middle: the others are still destroyed', async () => {
    const fake = new FakeIpset();
    for (const n of ['a', 'b', 'c', 'd']) fake.load(`create cali40${n} hash:ip family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x1\n`);
    fake.sets.get('cali40b')!.refs = 1;
    const s = make(fake);
    await s.resync();
    const d = await s.applyDeletions();
    assert.equal(d.writes, 3);
    assert.equal(d.waiting, 1);
    assert.deepEqual([...fake.sets.keys()], ['cali40b']);
  });

  test('a type change destroys and recreates the set; if it is in use it waits and the rest is still written', async () => {
    const fake = new FakeIpset().load(CANNED_SAVE);
    const s = make(fake);
    desireCanned(s);
    await s.resync();
    fake.clearCalls();
    s.setDesired('s:web', 'net', ['10.65.0.0/24']);
    let u = await s.applyUpdates();
    assert.equal(u.failures, 0, u.errors.join());
    assert.deepEqual(fake.writes()[0]!.argv, ['ipset', 'destroy', 'cali40s:web']);
    assert.deepEqual(fake.restoreLines(), ['create cali40s:web hash:net family inet maxelem 1048576', 'add cali40s:web 10.65.0.0/24']);
    assert.equal(fake.sets.get('cali40s:web')!.type, 'hash:net');

    // Back to hash:ip while a rule refers to the set: the kernel cannot do it.
    fake.sets.get('cali40s:web')!.refs = 1;
    s.setDesired('s:web', 'ip', ['10.65.0.5']);
    s.addMembers('p:dns', ['10.96.0.11,udp:53']);
    fake.clearCalls();
    u = await s.applyUpdates();
    assert.equal(u.failures, 0);
    assert.equal(u.waiting, 1);
    assert.equal(u.errors.length, 1);
    assert.match(u.errors[0]!, /cali40s:web is hash:net inet but must be hash:ip inet/);
    assert.deepEqual(fake.restoreLines(), ['add cali40p:dns 10.96.0.11,udp:53 -exist']);
    assert.equal(s.inSync, false, 'the set is wrong in the kernel');
    fake.clearCalls();
    u = await s.applyUpdates();
    assert.deepEqual(fake.calls, [], 'no destroy loop before the next resync');
    assert.equal(u.waiting, 1);
    fake.sets.get('cali40s:web')!.refs = 0;
    await s.resync();
    await converge(s);
    assert.equal(fake.sets.get('cali40s:web')!.type, 'hash:ip');
    assert.deepEqual(fake.members('cali40s:web'), ['10.65.0.5']);
    assert.equal(s.inSync, true);
  });

  test('a set found with options tortie never writes (timeout, nomatch) is recreated', async () => {
    const fake = new FakeIpset().load(
      'create cali40t hash:ip family inet hashsize 1024 maxelem 1048576 timeout 300 bucketsize 12 initval 0x1\nadd cali40t 10.0.0.1 timeout 299\n' +
        'create cali40m hash:net family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x2\nadd cali40m 10.0.0.0/8 nomatch\n',
    );
    const s = make(fake);
    s.setDesired('t', 'ip', ['10.0.0.1']);
    s.setDesired('m', 'net', ['10.0.0.0/8']);
    await s.resync();
    await converge(s);
    assert.deepEqual(
      fake.writes().map((c) => c.argv.join(' ')),
      ['ipset destroy cali40t', 'ipset destroy cali40m', 'ipset restore'],
    );
    assert.equal(fake.sets.get('cali40t')!.extra, '');
    assert.deepEqual(fake.members('cali40m'), ['10.0.0.0/8']);
    await s.resync();
    assert.equal(s.inSync, true);
  });

  test('a failed restore: one failure naming the line, then read back and repaired; the failing set goes last', async () => {
    const fake = new FakeIpset().load(CANNED_SAVE);
    const reg = new Registry();
    const metrics = createIpSetsMetrics(reg);
    const s = make(fake, { metrics });
    desireCanned(s);
    await s.resync();
    s.addMembers('s:web', ['10.65.3.3']);
    s.addMembers('p:dns', ['10.96.0.12,tcp:53']);
    fake.refuse.add('10.65.3.3');
    const u = await s.applyUpdates();
    assert.equal(u.failures, 1);
    assert.equal(u.writes, 0);
    assert.equal(u.errors.length, 1);
    assert.match(u.errors[0]!, /^ipset restore failed at line 1 \(add cali40s:web 10\.65\.3\.3 -exist\): Syntax error/);
    assert.equal(s.inSync, false);
    fake.refuse.clear();
    fake.clearCalls();
    const again = await s.applyUpdates();
    assert.equal(again.failures, 0, again.errors.join());
    assert.deepEqual(
      fake.calls.map((c) => c.argv.join(' ')),
      ['ipset save', 'ipset restore'],
      'reads the kernel back before writing again',
    );
    // The set whose line failed is written after the others.
    const lines = fake.restoreLines();
    assert.ok(lines.findIndex((l) => l.includes('p:dns')) < lines.findIndex((l) => l.includes('s:web')), lines.join('\n'));
    assert.deepEqual(fake.members('cali40s:web'), ['10.65.0.5', '10.65.1.5', '10.65.3.3']);
    assert.deepEqual(fake.members('cali40p:dns'), ['10.96.0.10,tcp:53', '10.96.0.10,udp:53', '10.96.0.12,tcp:53']);
    assert.equal(s.inSync, true);
    const errors = (await reg.getSingleMetric('felix_ipset_errors')!.get()).values[0]!.value;
    assert.equal(errors, 1);
  });

  test('a runner that cannot run or times out is a failure and a resync is due', async () => {
    const fake = new FakeIpset().load(CANNED_SAVE);
    const s = make(fake);
    desireCanned(s);
    await s.resync();
    s.addMembers('s:web', ['10.65.4.4']);
    const { ExecError } = await import('../exec.js');
    const real = fake.run.bind(fake);
    fake.run = (argv, opts) => (argv.includes('restore') ? Promise.reject(new ExecError([...argv], 'timed out after 60000 ms', '')) : real(argv, opts));
    const u = await s.applyUpdates();
    assert.equal(u.failures, 1);
    assert.match(u.errors[0]!, /timed out/);
    assert.equal(s.inSync, false);
    fake.run = real;
    await converge(s);
    assert.ok(fake.members('cali40s:web').includes('10.65.4.4'));
    assert.equal(s.inSync, true);
  });

  test('resync reports drift (flushed, member gone, foreign member, set destroyed) and the next apply repairs it', async () => {
    const fake = new FakeIpset().load(CANNED_SAVE);
    const s = make(fake);
    desireCanned(s);
    await s.resync();
    fake.sets.get('cali40s:web')!.members.clear();
    fake.sets.get('cali40n:nets')!.members.delete('10.0.0.1');
    fake.sets.get('cali40n:nets')!.members.add('192.0.2.0/24');
    fake.sets.delete('cali40p:dns');
    fake.load('create cali40intruder hash:ip family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x1\n');
    assert.deepEqual(await s.resync(), { drifted: 4 });
    await converge(s);
    assert.deepEqual(fake.members('cali40s:web'), ['10.65.0.5', '10.65.1.5']);
    assert.deepEqual(fake.members('cali40n:nets'), ['10.0.0.1', '10.0.1.0/24']);
    assert.deepEqual(fake.members('cali40p:dns'), ['10.96.0.10,tcp:53', '10.96.0.10,udp:53']);
    assert.equal(fake.sets.has('cali40intruder'), false);
    assert.deepEqual(await s.resync(), { drifted: 0 });
    assert.equal(s.inSync, true);
  });

  test('a /0 is held as two /1 halves; a half wanted in its own right outlives the /0', async () => {
    const fake = new FakeIpset();
    const s = make(fake);
    s.setDesired('all', 'net', ['0.0.0.0/0', '::/0']);
    await s.resync();
    await converge(s);
    assert.deepEqual(fake.members('cali40all'), ['0.0.0.0/1', '128.0.0.0/1']);
    s.addMembers('all', ['128.0.0.0/1']);
    s.removeMembers('all', ['0.0.0.0/0']);
    await converge(s);
    assert.deepEqual(fake.members('cali40all'), ['128.0.0.0/1']);
    s.addMembers('all', ['0.0.0.0/0']);
    s.removeMembers('all', ['128.0.0.0/1']);
    await converge(s);
    assert.deepEqual(fake.members('cali40all'), ['0.0.0.0/1', '128.0.0.0/1'], 'still covered by the /0');
    const v6 = make(fake, { ipVersion: 6 });
    v6.setDesired('all', 'net', ['0.0.0.0/0', '::/0']);
    await v6.resync();
    await converge(v6);
    assert.deepEqual(fake.members('cali60all'), ['8000::/1', '::/1']);
  });

  test('invalid input throws and changes nothing', async () => {
    const fake = new FakeIpset().load(CANNED_SAVE);
    const s = make(fake);
    desireCanned(s);
    await s.resync();
    assert.throws(() => s.setDesired('s:web', 'ip', ['10.65.0.5', '010.0.0.1']), /invalid ip IP set member "010.0.0.1"/);
    assert.throws(() => s.addMembers('s:web', ['10.65.8.8', 'bogus']), /invalid ip IP set member "bogus"/);
    assert.throws(() => s.setDesired('bad id', 'ip', []), /invalid IP set id/);
    assert.throws(() => s.setDesired('x\nflush KUBE-xyz', 'ip', []), /invalid IP set id/);
    assert.throws(() => s.setDesired('ok', 'hash:ip' as never, []), /unknown type/);
    assert.throws(() => s.addMembers('never-set', ['10.0.0.1']), /not desired/);
    assert.throws(() => s.removeMembers('never-set', ['10.0.0.1']), /not desired/);
    // Ids longer than the name limit that share their first 25 characters would share a set.
    s.setDesired('abcdefghijklmnopqrstuvwxy-1', 'ip', []);
    assert.throws(() => s.setDesired('abcdefghijklmnopqrstuvwxy-2', 'ip', []), /both become cali40abcdefghijklmnopqrstuvwxy/);
    s.remove('abcdefghijklmnopqrstuvwxy-1');
    assert.equal(s.inSync, true, 'the refused calls left nothing behind');
  });

  test('a set re-added while the kernel still holds it is rewritten, not patched from a blank belief', async () => {
    const fake = new FakeIpset().load(CANNED_SAVE);
    const s = make(fake);
    desireCanned(s);
    await s.resync();
    s.remove('s:web');
    s.setDesired('s:web', 'ip', ['10.65.0.5']);
    await converge(s);
    assert.deepEqual(fake.members('cali40s:web'), ['10.65.0.5']);
  });

  test('a set larger than maxSize is refused with a message; the others are still written', async () => {
    const fake = new FakeIpset();
    const s = make(fake, { maxSize: 2 });
    s.setDesired('big', 'ip', ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    s.setDesired('small', 'ip', ['10.0.0.1']);
    await s.resync();
    const u = await s.applyUpdates();
    assert.equal(u.failures, 1);
    assert.match(u.errors[0]!, /cali40big .* wants 3 members, more than maxelem 2/);
    assert.deepEqual(fake.members('cali40small'), ['10.0.0.1']);
    assert.equal(fake.sets.has('cali40big'), false);
  });

  test('100,000 members are streamed in chunks, and a restart over them writes nothing', async () => {
    const fake = new FakeIpset({ streaming: true });
    const members: string[] = [];
    for (let i = 0; i < 100_000; i++) members.push(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
    members[0] = '10.200.0.1';
    const s = make(fake);
    s.setDesired('big', 'ip', members);
    await s.resync();
    const u = await s.applyUpdates();
    assert.equal(u.writes, 100_001);
    assert.ok(fake.chunks > 10, `streamed in ${fake.chunks} chunks`);
    assert.equal(fake.sets.get('cali40big')!.members.size, 100_000);
    assert.equal(s.inSync, true, 'booked while streaming');
    fake.clearCalls();
    s.removeMembers('big', ['10.200.0.1']);
    await s.applyUpdates();
    assert.deepEqual(fake.restoreLines(), ['del cali40big 10.200.0.1 -exist']);
    s.addMembers('big', ['10.200.0.1']);
    await s.applyUpdates();
    const restarted = make(fake);
    restarted.setDesired('big', 'ip', members);
    await restarted.resync();
    fake.clearCalls();
    await converge(restarted);
    assert.deepEqual(fake.calls, []);
  });

  test('metrics: shared by both families on one registry, Felix names and labels', async () => {
    const reg = new Registry();
    const m4 = createIpSetsMetrics(reg);
    const m6 = createIpSetsMetrics(reg);
    assert.equal(m4.calls, m6.calls, 'created once per registry');
    const fake = new FakeIpset().load(CANNED_SAVE);
    const v4 = make(fake, { metrics: m4 });
    const v6 = make(fake, { ipVersion: 6, metrics: m6 });
    desireCanned(v4);
    desireCanned(v6);
    await v4.resync();
    await v6.resync();
    await converge(v4);
    await converge(v6);
    const text = await reg.metrics();
    assert.match(text, /^felix_ipsets_calico\{ip_version="inet"\} 3$/m);
    assert.match(text, /^felix_ipsets_calico\{ip_version="inet6"\} 3$/m);
    assert.match(text, /^felix_ipsets_total 6$/m, 'every set in the namespace, foreign ones too');
    // save + restore (v6 sets n:nets and p:dns are missing) for v6, save only for v4.
    assert.match(text, /^felix_ipset_calls 3$/m);
    assert.match(text, /^felix_ipset_errors 0$/m);
    assert.match(text, /# HELP felix_ipset_calls Number of ipset commands executed\./);
  });

  test('commands run inside the given namespace', async () => {
    const fake = new FakeIpset();
    const s = make(fake, { netns: 'tt-dp-1-a' });
    s.setDesired('x', 'ip', ['10.0.0.1']);
    await s.resync();
    await s.applyUpdates();
    assert.deepEqual(
      fake.calls.map((c) => c.argv.join(' ')),
      ['ip netns exec tt-dp-1-a ipset save', 'ip netns exec tt-dp-1-a ipset restore'],
    );
  });

  test('changes made while a restore is running are written by the next apply', async () => {
    const fake = new FakeIpset({ streaming: true }).load(CANNED_SAVE);
    const s = make(fake);
    desireCanned(s);
    await s.resync();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const real = fake.run.bind(fake);
    fake.run = async (argv, opts) => {
      if (argv.includes('restore')) await gate;
      return real(argv, opts);
    };
    const big = Array.from({ length: 5000 }, (_, i) => `10.70.${i >> 8}.${i & 255}`).slice(1);
    s.setDesired('s:web', 'ip', big);
    const running = s.applyUpdates();
    await new Promise((r) => setImmediate(r));
    s.addMembers('s:web', ['10.71.0.1']);
    s.removeMembers('s:web', ['10.70.0.1']);
    s.setDesired('late', 'ip', ['10.72.0.1']);
    release();
    assert.equal((await running).failures, 0);
    assert.equal(s.inSync, false);
    fake.run = real;
    fake.clearCalls();
    await converge(s);
    assert.deepEqual(fake.restoreLines().sort(), [
      'add cali40late 10.72.0.1',
      'add cali40s:web 10.71.0.1 -exist',
      'create cali40late hash:ip family inet maxelem 1048576',
      'del cali40s:web 10.70.0.1 -exist',
    ]);
    assert.equal(s.inSync, true);
    assert.deepEqual(fake.members('cali40s:web'), [...big.filter((m) => m !== '10.70.0.1'), '10.71.0.1'].sort());
  });

  test('calls are not reentrant', async () => {
    const s = make(new FakeIpset());
    const first = s.resync();
    await assert.rejects(s.applyUpdates(), /while another is running/);
    await first;
  });
});

/**
 * The IP set reconciler against the real `ipset` in a network namespace of its own (IP sets are
 * per network namespace; nothing here runs ipset in the root namespace). Every ipset command
 * tortie runs is recorded, so "writes nothing" and "one line" are checked on what was actually
 * sent. Proves: create, delta, rewrite, remove; canonical forms that read back equal (a restart
 * writes nothing); 100,000 members round trip; tampering repaired; foreign sets left alone;
 * sets held by an iptables rule; leftover temporaries; IPv6.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessRunner, type CommandRunner, type ExecResult, type StreamingCommand } from '../../src/dataplane/exec.js';
import { IpSets } from '../../src/dataplane/ipsets/ipsets.js';
import { canonicalMember } from '../../src/dataplane/ipsets/members.js';
import type { IpVersion } from '../../src/proto/policy.js';
import { deleteAll, makeNs, nsName, requireRoot, sh, sweepStale } from './topology.js';

interface Call {
  argv: string[];
  input: string;
}

/** The real runner, recording argv and stdin of every command. */
class RecordingRunner implements CommandRunner {
  readonly calls: Call[] = [];
  private readonly inner = new ProcessRunner();

  run(argv: readonly string[], opts?: { input?: string; timeoutMs?: number }): Promise<ExecResult> {
    this.calls.push({ argv: [...argv], input: opts?.input ?? '' });
    return this.inner.run(argv, opts);
  }

  start(argv: readonly string[], opts?: { timeoutMs?: number }): StreamingCommand {
    const call: Call = { argv: [...argv], input: '' };
    this.calls.push(call);
    const c = this.inner.start(argv, opts);
    return {
      write: (d) => {
        call.input += d;
        return c.write(d);
      },
      end: () => c.end(),
      kill: () => c.kill(),
    };
  }

  /** Commands other than the read-back. */
  writes(): Call[] {
    return this.calls.filter((c) => !c.argv.includes('save'));
  }

  restoreLines(): string[] {
    return this.writes()
      .filter((c) => c.argv.includes('restore'))
      .flatMap((c) => c.input.split('\n').filter(Boolean));
  }

  clear(): void {
    this.calls.length = 0;
  }
}

const ns = nsName('ipsets');

async function ipset(...args: string[]): Promise<string> {
  const r = await sh(ns, 'ipset', ...args);
  assert.equal(r.code, 0, `ipset ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The kernel's sets, parsed independently of the code under test. */
async function kernelSets(): Promise<Map<string, { header: string; members: string[] }>> {
  const out = new Map<string, { header: string; members: string[] }>();
  for (const line of (await ipset('save')).split('\n')) {
    const [cmd, name, ...rest] = line.split(' ');
    if (cmd === 'create') out.set(name!, { header: rest.join(' '), members: [] });
    if (cmd === 'add') out.get(name!)!.members.push(rest.join(' '));
  }
  for (const s of out.values()) s.members.sort();
  return out;
}

async function members(name: string): Promise<string[] | undefined> {
  return (await kernelSets()).get(name)?.members;
}

function reconciler(runner: CommandRunner, ipVersion: IpVersion = 4): IpSets {
  return new IpSets({ runner, ipVersion, netns: ns });
}

async function converge(s: IpSets): Promise<void> {
  const u = await s.applyUpdates();
  assert.equal(u.failures, 0, u.errors.join('\n'));
  const d = await s.applyDeletions();
  assert.equal(d.failures, 0, d.errors.join('\n'));
}

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

describe('IP sets on the real ipset, in a network namespace', () => {
  before(async () => {
    requireRoot();
    await sweepStale();
    await makeNs(ns);
    // Foreign sets, one with a name close to ours: never to be touched.
    await ipset('create', 'KUBE-xyz', 'hash:ip');
    await ipset('add', 'KUBE-xyz', '10.0.0.9');
    await ipset('create', 'cali-foo', 'hash:net');
    await ipset('add', 'cali-foo', '10.8.0.0/16');
  });

  after(async () => {
    await deleteAll([ns]);
  });

  test('create, one-line delta, rewrite by swap, remove', async () => {
    const rec = new RecordingRunner();
    const s = reconciler(rec);
    s.setDesired('s:web', 'ip', ['10.65.0.5', '10.65.1.5', 'fd00::5']);
    s.setDesired('n:nets', 'net', ['10.0.0.1/32', '10.0.1.0/24', '0.0.0.0/0']);
    s.setDesired('p:dns', 'ip-port', ['10.96.0.10,udp:53', '10.96.0.10,TCP:53']);
    await s.resync();
    await converge(s);
    const k = await kernelSets();
    assert.deepEqual(k.get('cali40s:web')?.members, ['10.65.0.5', '10.65.1.5']);
    assert.match(k.get('cali40s:web')!.header, /^hash:ip family inet .*maxelem 1048576/);
    assert.deepEqual(k.get('cali40n:nets')?.members, ['0.0.0.0/1', '10.0.0.1', '10.0.1.0/24', '128.0.0.0/1']);
    assert.deepEqual(k.get('cali40p:dns')?.members, ['10.96.0.10,tcp:53', '10.96.0.10,udp:53']);
    assert.equal(s.inSync, true);

    rec.clear();
    s.addMembers('s:web', ['10.65.2.5']);
    await converge(s);
    assert.deepEqual(rec.restoreLines(), ['add cali40s:web 10.65.2.5 -exist']);
    assert.deepEqual(await members('cali40s:web'), ['10.65.0.5', '10.65.1.5', '10.65.2.5']);

    rec.clear();
    s.removeMembers('s:web', ['10.65.0.5']);
    await converge(s);
    assert.deepEqual(rec.restoreLines(), ['del cali40s:web 10.65.0.5 -exist']);

    // Grown to 12 members, then replaced by 3 others: 15 delta lines against a 6-line rewrite.
    s.addMembers('s:web', Array.from({ length: 10 }, (_, i) => `10.65.3.${i + 1}`));
    await converge(s);
    rec.clear();
    const fresh = ['10.66.0.1', '10.66.0.2', '10.66.0.3'];
    s.setDesired('s:web', 'ip', fresh);
    await converge(s);
    assert.deepEqual(rec.restoreLines(), [
      'create cali4ts:web hash:ip family inet maxelem 1048576',
      'add cali4ts:web 10.66.0.1',
      'add cali4ts:web 10.66.0.2',
      'add cali4ts:web 10.66.0.3',
      'swap cali40s:web cali4ts:web',
      'destroy cali4ts:web',
    ]);
    assert.deepEqual(await members('cali40s:web'), sorted(fresh));
    assert.equal((await kernelSets()).has('cali4ts:web'), false, 'temporary destroyed');

    s.remove('s:web');
    s.remove('n:nets');
    s.remove('p:dns');
    await converge(s);
    const after = await kernelSets();
    for (const n of ['cali40s:web', 'cali40n:nets', 'cali40p:dns']) assert.equal(after.has(n), false, n);
    assert.equal(s.inSync, true);
  });

  test('members in any spelling read back equal: a restart writes nothing', async () => {
    const v4 = ['10.0.0.1/32', '10.0.2.5/24', '192.168.0.0/16', '10.7.0.0/31'];
    const v6 = ['FD00:0:0:0::1/128', 'fd00:0000:1::/64', '::ffff:1.2.3.4/128', '::1:2/128', '2001:DB8:0:0:1:0:0:1', 'fd00::1:2:3/100', '::/0'];
    const ports = ['10.0.0.1,TCP:80', '10.0.0.1,udp:053', 'FD00::A,sctp:9', '::ffff:10.0.0.1,tcp:443'];
    const rec = new RecordingRunner();
    for (const v of [4, 6] as const) {
      const s = reconciler(rec, v);
      s.setDesired('canon-n', 'net', [...v4, ...v6]);
      s.setDesired('canon-p', 'ip-port', ports);
      await s.resync();
      await converge(s);
    }
    const k = await kernelSets();
    // What the kernel shows is exactly what the canonicaliser predicted.
    assert.deepEqual(k.get('cali40canon-n')?.members, sorted(v4.map((m) => canonicalMember('net', m))));
    assert.deepEqual(k.get('cali60canon-n')?.members, sorted([...v6.filter((m) => m !== '::/0').map((m) => canonicalMember('net', m)), '::/1', '8000::/1']));
    assert.deepEqual(k.get('cali40canon-p')?.members, ['10.0.0.1,tcp:80', '10.0.0.1,udp:53']);
    assert.deepEqual(k.get('cali60canon-p')?.members, ['::ffff:10.0.0.1,tcp:443', 'fd00::a,sctp:9']);
    assert.match(k.get('cali60canon-n')!.header, /family inet6/);

    rec.clear();
    for (const v of [4, 6] as const) {
      const restarted = reconciler(rec, v);
      restarted.setDesired('canon-n', 'net', [...v4, ...v6]);
      restarted.setDesired('canon-p', 'ip-port', ports);
      assert.deepEqual(await restarted.resync(), { drifted: 0 });
      assert.equal(restarted.inSync, true);
      const u = await restarted.applyUpdates();
      assert.equal(u.writes, 0);
      restarted.remove('canon-n');
      restarted.remove('canon-p');
      await converge(restarted);
    }
    assert.deepEqual(
      rec.writes().map((c) => c.input.trim()),
      ['destroy cali40canon-n\ndestroy cali40canon-p', 'destroy cali60canon-n\ndestroy cali60canon-p'],
      'nothing was written but the final clean-up',
    );
  });

  test('100,000 members: written in one streamed restore, read back, restart writes nothing, a delta is one line', async (t) => {
    const all: string[] = [];
    for (let i = 0; i < 100_000; i++) all.push(`10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`);
    all[0] = '10.200.0.1';
    const rec = new RecordingRunner();
    const s = reconciler(rec);
    let t0 = performance.now();
    s.setDesired('big', 'ip', all);
    await s.resync();
    const u = await s.applyUpdates();
    const tortieMs = performance.now() - t0;
    assert.equal(u.failures, 0, u.errors.join('\n'));
    assert.equal(u.writes, 100_001);
    const k = await kernelSets();
    assert.equal(k.get('cali40big')?.members.length, 100_000);
    assert.deepEqual(k.get('cali40big')?.members, sorted(all));

    // For comparison only (no assertion on time): raw ipset restore of the same text.
    const raw = ['create tortie-bench-raw hash:ip family inet maxelem 1048576', ...all.map((m) => `add tortie-bench-raw ${m}`)].join('\n') + '\n';
    t0 = performance.now();
    const r = await new ProcessRunner().run(['ip', 'netns', 'exec', ns, 'ipset', 'restore'], { input: raw });
    const rawMs = performance.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    await ipset('destroy', 'tortie-bench-raw');
    t.diagnostic(`100,000 members: setDesired+resync+applyUpdates ${tortieMs.toFixed(0)} ms; raw ipset restore ${rawMs.toFixed(0)} ms`);

    rec.clear();
    const restarted = reconciler(rec);
    t0 = performance.now();
    restarted.setDesired('big', 'ip', all);
    assert.deepEqual(await restarted.resync(), { drifted: 0 });
    assert.equal((await restarted.applyUpdates()).writes, 0);
    t.diagnostic(`restart over 100,000 members (setDesired+resync+applyUpdates): ${(performance.now() - t0).toFixed(0)} ms`);
    assert.deepEqual(rec.writes(), []);

    restarted.addMembers('big', ['10.250.0.1']);
    await converge(restarted);
    assert.deepEqual(rec.restoreLines(), ['add cali40big 10.250.0.1 -exist']);
    restarted.remove('big');
    await converge(restarted);
    assert.equal((await kernelSets()).has('cali40big'), false);
  });

  test('tampering is found by resync and repaired by the next apply', async () => {
    const rec = new RecordingRunner();
    const s = reconciler(rec);
    const want = {
      a: ['10.1.0.1', '10.1.0.2', '10.1.0.3'],
      b: ['10.2.0.0/24', '10.2.1.0/24'],
      c: ['10.3.0.1,tcp:80'],
      d: ['10.4.0.1'],
    };
    s.setDesired('t-a', 'ip', want.a);
    s.setDesired('t-b', 'net', want.b);
    s.setDesired('t-c', 'ip-port', want.c);
    s.setDesired('t-d', 'ip', want.d);
    await s.resync();
    await converge(s);
    await ipset('flush', 'cali40t-a');
    await ipset('del', 'cali40t-b', '10.2.0.0/24');
    await ipset('add', 'cali40t-c', '10.3.0.9,udp:99');
    await ipset('destroy', 'cali40t-d');
    await ipset('create', 'cali40t-intruder', 'hash:ip');
    const { drifted } = await s.resync();
    assert.equal(drifted, 5);
    assert.equal(s.inSync, false);
    await converge(s);
    const k = await kernelSets();
    assert.deepEqual(k.get('cali40t-a')?.members, want.a);
    assert.deepEqual(k.get('cali40t-b')?.members, want.b);
    assert.deepEqual(k.get('cali40t-c')?.members, want.c);
    assert.deepEqual(k.get('cali40t-d')?.members, want.d);
    assert.equal(k.has('cali40t-intruder'), false);
    assert.deepEqual(await s.resync(), { drifted: 0 });
    assert.equal(s.inSync, true);
    for (const id of ['t-a', 't-b', 't-c', 't-d']) s.remove(id);
    await converge(s);
  });

  test('a set held by an iptables rule: its destroy waits (reported once) and goes through once the rule is gone', async () => {
    const rec = new RecordingRunner();
    const s = reconciler(rec);
    s.setDesired('held', 'ip', ['10.5.0.1']);
    s.setDesired('retype', 'ip', ['10.5.0.2']);
    await s.resync();
    await converge(s);
    const rule = ['-A', 'INPUT', '-m', 'set', '--match-set', 'cali40held', 'src', '-j', 'ACCEPT'];
    const rule2 = ['-A', 'INPUT', '-m', 'set', '--match-set', 'cali40retype', 'src', '-j', 'ACCEPT'];
    assert.equal((await sh(ns, 'iptables', ...rule)).code, 0);
    assert.equal((await sh(ns, 'iptables', ...rule2)).code, 0);

    s.remove('held');
    s.setDesired('retype', 'net', ['10.5.0.0/24']);
    s.setDesired('other', 'ip', ['10.5.0.3']);
    const u = await s.applyUpdates();
    assert.equal(u.failures, 0, u.errors.join('\n'));
    assert.equal(u.waiting, 1);
    assert.match(u.errors.join('\n'), /cali40retype is hash:ip inet but must be hash:net inet/);
    assert.deepEqual(await members('cali40other'), ['10.5.0.3'], 'the rest of the batch went ahead');
    const d = await s.applyDeletions();
    assert.equal(d.failures, 0, d.errors.join('\n'));
    assert.equal(d.waiting, 1);
    assert.match(d.errors.join('\n'), /cannot destroy IP set cali40held: it is still referenced/);
    assert.ok((await kernelSets()).has('cali40held'));
    await s.resync();
    const d2 = await s.applyDeletions();
    assert.equal(d2.waiting, 1);
    assert.deepEqual(d2.errors, [], 'reported once');

    assert.equal((await sh(ns, 'iptables', '-D', ...rule.slice(1))).code, 0);
    assert.equal((await sh(ns, 'iptables', '-D', ...rule2.slice(1))).code, 0);
    await s.resync();
    await converge(s);
    const k = await kernelSets();
    assert.equal(k.has('cali40held'), false);
    assert.match(k.get('cali40retype')!.header, /^hash:net /);
    assert.deepEqual(k.get('cali40retype')?.members, ['10.5.0.0/24']);
    assert.equal(s.inSync, true);
    s.remove('retype');
    s.remove('other');
    await converge(s);
  });

  test('leftover temporaries (ours and Felix-numbered) and unwanted sets of ours are destroyed', async () => {
    await ipset('create', 'cali4tcrash', 'hash:ip');
    await ipset('create', 'cali4t0', 'hash:net');
    await ipset('create', 'cali40stale', 'hash:ip');
    await ipset('create', 'cali6tcrash', 'hash:ip', 'family', 'inet6');
    const rec = new RecordingRunner();
    const v4 = reconciler(rec);
    await v4.resync();
    assert.equal(v4.inSync, false);
    await converge(v4);
    let k = await kernelSets();
    for (const n of ['cali4tcrash', 'cali4t0', 'cali40stale']) assert.equal(k.has(n), false, n);
    assert.ok(k.has('cali6tcrash'), 'the IPv6 reconciler owns that one');
    const v6 = reconciler(rec, 6);
    await v6.resync();
    await converge(v6);
    k = await kernelSets();
    assert.equal(k.has('cali6tcrash'), false);
    assert.equal(v4.inSync, true);
  });

  test('IPv6 sets of every type', async () => {
    const rec = new RecordingRunner();
    const s = reconciler(rec, 6);
    s.setDesired('v6-ip', 'ip', ['fd00::1', 'FD00::2', '10.0.0.1']);
    s.setDesired('v6-net', 'net', ['fd00:1::/64', 'fd00:2::1/128']);
    s.setDesired('v6-port', 'ip-port', ['fd00::1,tcp:80', '10.0.0.1,tcp:80']);
    await s.resync();
    await converge(s);
    const k = await kernelSets();
    assert.deepEqual(k.get('cali60v6-ip')?.members, ['fd00::1', 'fd00::2']);
    assert.deepEqual(k.get('cali60v6-net')?.members, ['fd00:1::/64', 'fd00:2::1']);
    assert.deepEqual(k.get('cali60v6-port')?.members, ['fd00::1,tcp:80']);
    for (const n of ['cali60v6-ip', 'cali60v6-net', 'cali60v6-port']) assert.match(k.get(n)!.header, /family inet6/);
    rec.clear();
    s.addMembers('v6-net', ['fd00:3::/48']);
    s.removeMembers('v6-ip', ['fd00::2']);
    await converge(s);
    assert.deepEqual(sorted(rec.restoreLines()), ['add cali60v6-net fd00:3::/48 -exist', 'del cali60v6-ip fd00::2 -exist']);
    const restarted = reconciler(rec, 6);
    restarted.setDesired('v6-ip', 'ip', ['fd00::1']);
    restarted.setDesired('v6-net', 'net', ['fd00:1::/64', 'fd00:2::1/128', 'fd00:3::/48']);
    restarted.setDesired('v6-port', 'ip-port', ['fd00::1,tcp:80']);
    rec.clear();
    assert.deepEqual(await restarted.resync(), { drifted: 0 });
    await converge(restarted);
    assert.deepEqual(rec.writes(), []);
    for (const id of ['v6-ip', 'v6-net', 'v6-port']) restarted.remove(id);
    await converge(restarted);
  });

  test('foreign sets were never touched', async () => {
    const k = await kernelSets();
    assert.deepEqual(k.get('KUBE-xyz')?.members, ['10.0.0.9']);
    assert.deepEqual(k.get('cali-foo')?.members, ['10.8.0.0/16']);
    // Everything of ours was cleaned up by the tests above.
    assert.deepEqual(sorted(k.keys()), ['KUBE-xyz', 'cali-foo']);
  });
});

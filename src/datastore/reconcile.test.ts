/**
 * Replay tests for the reconcile logic: one history of changes, fed as (list snapshot at a split
 * point) + (watch events, with overlaps and re-lists) in many orders; the model consumers end up
 * with must always be the same, and the stream must never break its own contract.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResourceCache } from './cache.js';
import { ScopeState } from './reconcile.js';
import type { BackendEvent, BackendItem } from './types.js';

/** Deterministic PRNG (mulberry32) so a failure reproduces. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = ['pool-a', 'pool-b', 'pool-c', 'pool-d', 'pool-e'];
type Op = { rev: number; name: string } & ({ kind: 'put'; cidr: string } | { kind: 'del' });

function history(seed: number, n: number): Op[] {
  const r = rng(seed);
  const ops: Op[] = [];
  for (let rev = 1; rev <= n; rev++) {
    const name = NAMES[Math.floor(r() * NAMES.length)]!;
    const x = r();
    if (x < 0.2) ops.push({ rev, name, kind: 'del' });
    // 1 in 5 puts carries an invalid CIDR: it must act as a deletion of the previous value.
    else ops.push({ rev, name, kind: 'put', cidr: x < 0.36 ? '10.0.0.0/33' : `10.${rev % 250}.0.0/16` });
  }
  return ops;
}

function item(op: Op & { kind: 'put' }): BackendItem {
  return {
    key: `IPPool/${op.name}`,
    kind: 'IPPool',
    revision: String(op.rev),
    value: { apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: op.name }, spec: { cidr: op.cidr } },
  };
}

function event(op: Op): BackendEvent {
  return op.kind === 'put' ? { type: 'put', item: item(op) } : { type: 'delete', kind: 'IPPool', key: `IPPool/${op.name}`, revision: String(op.rev) };
}

/** What etcd would list after the first `upto` ops: the latest put of every live key. */
function snapshot(ops: Op[], upto: number): BackendItem[] {
  const live = new Map<string, Op & { kind: 'put' }>();
  for (const op of ops.slice(0, upto)) {
    if (op.kind === 'put') live.set(op.name, op);
    else live.delete(op.name);
  }
  return [...live.values()].map(item);
}

/** Expected model: keys whose last op is a valid put, with that revision. */
function expected(ops: Op[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const op of ops) {
    if (op.kind === 'put' && !op.cidr.endsWith('/33')) m.set(`IPPool/${op.name}`, String(op.rev));
    else m.delete(`IPPool/${op.name}`);
  }
  return m;
}

function modelOf(cache: { snapshot(): ReturnType<ResourceCache['snapshot']> }): Map<string, string> {
  return new Map([...cache.snapshot()].map(([k, v]) => [k, String(v.spec.cidr)]));
}
function expectedModel(ops: Op[]): Map<string, string> {
  const want = expected(ops);
  const out = new Map<string, string>();
  for (const [k, rev] of want) out.set(k, (ops[Number(rev) - 1] as Op & { kind: 'put' }).cidr);
  return out;
}

function shuffle<T>(a: T[], r: () => number): T[] {
  const b = [...a];
  for (let i = b.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [b[i], b[j]] = [b[j]!, b[i]!];
  }
  return b;
}

/** Reorders events across keys while keeping each key's own order (what per-key ordering allows). */
function interleave(evs: Op[], r: () => number): Op[] {
  const byKey = new Map<string, Op[]>();
  for (const e of evs) byKey.set(e.name, [...(byKey.get(e.name) ?? []), e]);
  const out: Op[] = [];
  const queues = [...byKey.values()];
  while (queues.some((q) => q.length)) {
    const live = queues.filter((q) => q.length);
    out.push(live[Math.floor(r() * live.length)]!.shift()!);
  }
  return out;
}

test('replay: any split point, overlap, re-list and order gives the same model', () => {
  let scenarios = 0;
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const ops = history(seed, 40);
    const want = expectedModel(ops);
    const r = rng(seed * 7919);
    for (let split = 0; split <= ops.length; split++) {
      for (const variant of ['plain', 'overlap', 'relist', 'shuffled'] as const) {
        let invalidSeen = 0;
        const state = new ScopeState(() => invalidSeen++);
        const inner = new ResourceCache();
        // Per key, delivered revisions must strictly increase: nothing stale, nothing twice.
        const lastRev = new Map<string, number>();
        const cache = {
          apply(batch: ReturnType<ScopeState['applyEvent']>) {
            for (const u of batch) {
              const prev = lastRev.get(u.key) ?? -1;
              assert.ok(Number(u.revision) > prev, `seed ${seed} split ${split} ${variant}: ${u.type} ${u.key}@${u.revision} after @${prev}`);
              lastRev.set(u.key, Number(u.revision));
            }
            inner.apply(batch);
          },
          snapshot: () => inner.snapshot(),
          get violations() {
            return inner.violations;
          },
        };
        cache.apply(state.applyList(shuffle(snapshot(ops, split), r), String(split)));
        // Watch from an earlier revision than the list: the overlap must be dropped as duplicates.
        const from = variant === 'overlap' ? Math.max(0, split - 5) : split;
        let rest = ops.slice(from);
        if (variant === 'shuffled') rest = interleave(rest, r);
        if (variant === 'relist') {
          // Compaction in the middle: re-list at a later point, then continue after it.
          const mid = split + Math.floor((ops.length - split) / 2);
          for (const op of rest.slice(0, Math.floor(r() * (mid - split + 1)))) cache.apply(state.applyEvent(event(op)));
          cache.apply(state.applyList(shuffle(snapshot(ops, mid), r), String(mid)));
          rest = ops.slice(mid);
        }
        for (const op of rest) cache.apply(state.applyEvent(event(op)));
        assert.deepEqual(modelOf(cache), want, `seed ${seed} split ${split} ${variant}`);
        assert.equal(cache.violations, 0, `stream contract broken: seed ${seed} split ${split} ${variant}`);
        assert.ok(invalidSeen >= 0);
        scenarios++;
      }
    }
  }
  assert.ok(scenarios > 1000);
});

test('replay: a list that matches what consumers hold sends nothing', () => {
  const ops = history(42, 30);
  const state = new ScopeState();
  const cache = new ResourceCache();
  cache.apply(state.applyList(snapshot(ops, 30), '30'));
  assert.deepEqual(state.applyList(shuffle(snapshot(ops, 30), rng(1)), '31'), []);
});

test('replay: a re-list reports vanished keys as deletes and changed ones as updates', () => {
  const state = new ScopeState();
  const put = (name: string, rev: number, cidr = `10.${rev}.0.0/16`) => item({ rev, name, kind: 'put', cidr });
  state.applyList([put('a', 1), put('b', 2), put('c', 3)], '3');
  const u = state.applyList([put('a', 1), put('c', 5)], '6');
  assert.deepEqual(
    u.map((x) => [x.type, x.key, x.revision]),
    [
      ['update', 'IPPool/c', '5'],
      ['delete', 'IPPool/b', '6'],
    ],
  );
});

test('replay: valid → invalid is a delete; invalid → valid is an add; invalid is logged once', () => {
  const problems: string[] = [];
  const state = new ScopeState((it, p, wasValid) => problems.push(`${it.key}:${p[0]!.path}:${wasValid}`));
  const put = (rev: number, cidr: string) => ({ type: 'put' as const, item: item({ rev, name: 'x', kind: 'put', cidr }) });
  assert.deepEqual(state.applyEvent(put(1, '10.0.0.0/16')).map((u) => u.type), ['add']);
  assert.deepEqual(state.applyEvent(put(2, '10.0.0.0/33')).map((u) => u.type), ['delete']);
  assert.deepEqual(state.applyEvent(put(2, '10.0.0.0/33')), []); // replayed: not logged again
  assert.deepEqual(state.applyList([put(2, '10.0.0.0/33').item], '2'), []);
  assert.deepEqual(state.applyEvent(put(3, '10.1.0.0/16')).map((u) => u.type), ['add']);
  assert.deepEqual(problems, ['IPPool/x:spec.cidr:true']);
});

test('replay: undecodable values are rejected with the decode error', () => {
  const seen: string[] = [];
  const state = new ScopeState((_i, p) => seen.push(p[0]!.message));
  assert.deepEqual(state.applyList([{ key: 'IPPool/x', kind: 'IPPool', revision: '4', decodeError: 'not JSON' }], '4'), []);
  assert.deepEqual(seen, ['not JSON']);
});

test('replay: a ScopeState without values (the syncer\'s) emits exactly what one with values does', () => {
  for (const seed of [11, 12, 13, 14]) {
    const ops = history(seed, 40);
    const split = 15;
    const withValues = new ScopeState();
    const lean = new ScopeState(() => {}, { keepValues: false });
    const both = (f: (s: ScopeState) => ReturnType<ScopeState['applyEvent']>) => assert.deepEqual(f(lean), f(withValues), `seed ${seed}`);
    both((s) => s.applyList(snapshot(ops, split), String(split)));
    for (const op of ops.slice(split - 5)) both((s) => s.applyEvent(event(op)));
    // A re-list of an older snapshot changes nothing (stale), the final one reconciles deletions.
    both((s) => s.applyList(snapshot(ops, split), String(split)));
    both((s) => s.applyList(shuffle(snapshot(ops, ops.length), rng(seed)), String(ops.length)));
    assert.deepEqual([...lean.keys()].sort(), [...withValues.keys()].sort());
    for (const k of withValues.keys()) {
      assert.equal(lean.get(k), undefined);
      assert.equal(lean.revisionOf(k), withValues.revisionOf(k));
    }
  }
});

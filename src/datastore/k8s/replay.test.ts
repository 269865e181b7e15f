/**
 * Replay: one history of Pod changes, fed through the Kubernetes conversion and the syncer's
 * reconcile state in several ways — different interleavings across pods (per-pod order kept, as
 * a watch guarantees), a list at every point followed by a watch that replays from an earlier
 * revision (the overlap a resumed watch produces), and duplicated events — must always give the
 * same model as applying the history once, in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScopeState } from '../reconcile.js';
import type { Resource } from '../model/index.js';
import type { BackendItem } from '../types.js';
import { wireEventToBackendEvents } from './backend.js';
import type { K8sObject, Pod } from './conversion/k8stypes.js';
import { SOURCES, type ConvertContext } from './resources.js';

const source = SOURCES.WorkloadEndpoint[0];
const ctx: ConvertContext = { nodeName: 'n1', scope: { kind: 'WorkloadEndpoint' }, warn: () => undefined };

type WireEvent = { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: Pod };

function podAt(name: string, rv: number, over: { ip?: string; phase?: string; labels?: Record<string, string>; hostNetwork?: boolean } = {}): Pod {
  return {
    metadata: { name, namespace: 'default', resourceVersion: String(rv), labels: over.labels ?? { app: name } },
    spec: { nodeName: 'n1', hostNetwork: over.hostNetwork ?? false },
    status: { phase: over.phase ?? 'Running', ...(over.ip ? { podIP: over.ip } : {}) },
  };
}

/** A history with every transition that matters: no IP yet, IP, relabel, finish, delete, re-create. */
function history(): WireEvent[] {
  let rv = 10;
  const ev = (type: WireEvent['type'], name: string, over: Parameters<typeof podAt>[2] = {}): WireEvent => ({ type, object: podAt(name, ++rv, over) });
  return [
    ev('ADDED', 'a'),
    ev('ADDED', 'b', { ip: '10.0.0.2' }),
    ev('MODIFIED', 'a', { ip: '10.0.0.1' }),
    ev('ADDED', 'h', { ip: '198.18.0.1', hostNetwork: true }),
    ev('MODIFIED', 'b', { ip: '10.0.0.2', labels: { app: 'b', v: '2' } }),
    ev('ADDED', 'c', { ip: '10.0.0.3' }),
    ev('MODIFIED', 'a', { ip: '10.0.0.1', phase: 'Succeeded' }),
    ev('DELETED', 'c', { ip: '10.0.0.3' }),
    ev('DELETED', 'a', { ip: '10.0.0.1', phase: 'Succeeded' }),
    ev('ADDED', 'c', { ip: '10.0.0.4' }),
    ev('MODIFIED', 'b', { ip: '10.0.0.2', labels: { app: 'b', v: '3' } }),
  ];
}

function model(state: ScopeState): Map<string, Resource> {
  const m = new Map<string, Resource>();
  for (const k of state.keys()) m.set(k, state.get(k)!);
  return m;
}

function applyEvents(state: ScopeState, events: WireEvent[]): void {
  for (const e of events) for (const be of wireEventToBackendEvents(e.type, e.object as K8sObject, source, ctx)) state.applyEvent(be);
}

/** The objects alive after the first `n` events, as a list would return them. */
function listAfter(h: WireEvent[], n: number): BackendItem[] {
  const alive = new Map<string, Pod>();
  for (const e of h.slice(0, n)) {
    if (e.type === 'DELETED') alive.delete(e.object.metadata.name);
    else alive.set(e.object.metadata.name, e.object);
  }
  const items: BackendItem[] = [];
  for (const p of alive.values()) {
    const c = source.convert(p as K8sObject, ctx);
    if (c.type === 'item') items.push(c.item);
  }
  return items;
}

/** Deterministic shuffle keeping each pod's own events in order. */
function interleave(h: WireEvent[], seed: number): WireEvent[] {
  const queues = new Map<string, WireEvent[]>();
  for (const e of h) {
    const q = queues.get(e.object.metadata.name) ?? [];
    q.push(e);
    queues.set(e.object.metadata.name, q);
  }
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  const out: WireEvent[] = [];
  while ([...queues.values()].some((q) => q.length)) {
    const live = [...queues.values()].filter((q) => q.length);
    out.push(live[Math.floor(rnd() * live.length)].shift()!);
  }
  return out;
}

const reference = (() => {
  const s = new ScopeState();
  applyEvents(s, history());
  return model(s);
})();

test('the reference model: finished/deleted pods and host-network pods are absent', () => {
  assert.deepEqual([...reference.keys()].sort(), ['WorkloadEndpoint/default/n1-k8s-b-eth0', 'WorkloadEndpoint/default/n1-k8s-c-eth0']);
  const c = reference.get('WorkloadEndpoint/default/n1-k8s-c-eth0') as { spec: { ipNetworks: string[] } };
  assert.deepEqual(c.spec.ipNetworks, ['10.0.0.4/32']);
  const b = reference.get('WorkloadEndpoint/default/n1-k8s-b-eth0') as { metadata: { labels: Record<string, string> } };
  assert.equal(b.metadata.labels.v, '3');
});

test('any interleaving across pods gives the same model', () => {
  for (let seed = 1; seed <= 50; seed++) {
    const s = new ScopeState();
    applyEvents(s, interleave(history(), seed));
    assert.deepEqual(model(s), reference, `seed ${seed}`);
  }
});

test('a list at any point, then a watch replaying from any earlier point, gives the same model', () => {
  const h = history();
  for (let listAt = 0; listAt <= h.length; listAt++) {
    for (let replayFrom = 0; replayFrom <= listAt; replayFrom++) {
      const s = new ScopeState();
      s.applyList(listAfter(h, listAt), String(10 + listAt));
      applyEvents(s, h.slice(replayFrom));
      assert.deepEqual(model(s), reference, `list after ${listAt}, replay from ${replayFrom}`);
    }
  }
});

test('every event delivered twice changes nothing', () => {
  const s = new ScopeState();
  applyEvents(s, history().flatMap((e) => [e, e]));
  assert.deepEqual(model(s), reference);
});

test('a re-list with nothing changed sends nothing', () => {
  const s = new ScopeState();
  s.applyList(listAfter(history(), history().length), '99');
  assert.deepEqual(s.applyList(listAfter(history(), history().length), '99'), []);
});

/**
 * Taking labs down: one lab by name (idempotent, from any process, after a partial `up`), every
 * lab whose owner died (`down --stale`, run before tests), or every lab on the machine
 * (`down --all`). Processes go first (recorded pids, then anything else found inside the lab's
 * namespaces), then namespaces in reverse creation order, then the files.
 */
import { join } from 'node:path';
import { isRunning, processStartTime, stopProcess } from './exec.js';
import { labNetnsPrefix, labOfNetns, validateLabName } from './names.js';
import { netnsDelete, netnsExists, netnsList, netnsPids } from './netns.js';
import { requireRoot } from './root.js';
import { allStateFiles, indexedStateFile, labDir, ownerAlive, readStateFile, removeLabFiles, stateFile, withLabLock, type LabState } from './state.js';

/** Limit for tearing down one process in `down`: a lab should go away quickly. */
export const DOWN_GRACE_MS = 5_000;

/** Kills a recorded daemon unless its pid now belongs to another process. */
async function stopRecorded(pid: number | undefined, startTime: number | undefined): Promise<void> {
  if (!pid || !isRunning(pid)) return;
  if (startTime !== undefined && processStartTime(pid) !== startTime) return;
  await stopProcess(pid, { graceMs: DOWN_GRACE_MS });
}

/** Removes everything of a lab: processes (recorded and found in its namespaces), namespaces, files. */
export async function teardown(name: string, state: LabState | undefined, dir: string, o: { byPrefix?: boolean } = {}): Promise<void> {
  if (state) {
    await Promise.all(state.nodes.map((n) => stopRecorded(n.agent?.pid, n.agent?.startTime)));
    await stopRecorded(state.bird?.pid, state.bird?.startTime);
    await stopRecorded(state.etcd?.pid, state.etcd?.startTime);
  }
  const prefix = labNetnsPrefix(name);
  // byPrefix (default): also namespaces named like this lab's that the state does not list
  // (a crash between `ip netns add` and the state save). Off when `up` rolls back, where a
  // namespace it did not record may belong to a same-named lab of another state directory.
  const byPrefix = o.byPrefix ?? true;
  const recorded = [...(state?.namespaces ?? []), ...(state?.pods.map((p) => p.netns) ?? [])];
  const namespaces = [...new Set([...recorded, ...(byPrefix ? netnsList().filter((n) => n.startsWith(prefix)) : [])])];
  // Whatever still runs inside (a test's server in a pod, an agent we lost track of) goes too.
  for (const ns of namespaces) {
    // Never ourselves (e.g. `tortie lab exec x node-1 -- tortie lab down x`).
    const pids = (await netnsPids(ns)).filter((p) => p !== process.pid && p !== process.ppid);
    await Promise.all(pids.map((p) => stopProcess(p, { graceMs: DOWN_GRACE_MS })));
  }
  // Pods first, then members, the fabric last (reverse of creation).
  for (const ns of namespaces.reverse()) {
    await netnsDelete(ns);
  }
  const left = namespaces.filter(netnsExists);
  if (left.length) throw new Error(`lab ${name}: could not delete namespaces ${left.join(', ')}`);
  removeLabFiles(name, dir);
}

export interface LabDownResult {
  name: string;
  /** False when there was nothing left to remove. */
  existed: boolean;
}

/** Tears a lab down. Idempotent: a lab that does not exist (any more) is not an error. */
export async function labDown(name: string): Promise<LabDownResult> {
  requireRoot();
  validateLabName(name);
  // The lab may live in another state directory (a test's TORTIE_LAB_DIR): the index knows.
  let file = stateFile(name);
  if (!readStateFile(file)) {
    const indexed = indexedStateFile(name);
    if (indexed && readStateFile(indexed)) file = indexed;
  }
  const dir = join(file, '..');
  return withLabLock(
    name,
    async () => {
      // Read under the lock, so a pod added just before is in the state we tear down.
      const state = readStateFile(file);
      const existed = !!state || netnsList().some((n) => n.startsWith(labNetnsPrefix(name)));
      await teardown(name, state, dir);
      return { name, existed };
    },
    dir,
  );
}

/** Reads a state file, or undefined if it is missing or unreadable (a sweep moves on). */
function tryRead(file: string): LabState | undefined {
  try {
    return readStateFile(file);
  } catch {
    return undefined;
  }
}

/** Tears down one lab found by a sweep, re-reading its state under the lock; false if skipped. */
async function sweepOne(file: string, keep: (s: LabState) => boolean): Promise<string | undefined> {
  const first = tryRead(file);
  if (!first || keep(first)) return undefined;
  const dir = join(file, '..');
  return withLabLock(
    first.name,
    async () => {
      const s = tryRead(file);
      if (!s || keep(s)) return undefined;
      await teardown(s.name, s, dir);
      return s.name;
    },
    dir,
  );
}

/** Runs every sweep step; one lab failing to go does not stop the others, but is reported. */
async function sweep(steps: (() => Promise<string | undefined>)[]): Promise<string[]> {
  const done: string[] = [];
  const errors: string[] = [];
  for (const step of steps) {
    try {
      const name = await step();
      if (name) done.push(name);
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (errors.length) throw new Error(`sweep removed ${done.join(', ') || 'nothing'} but failed: ${errors.join('; ')}`);
  return [...new Set(done)].sort();
}

/** Tears down every lab whose owner process is gone. Never touches a lab whose owner lives. */
export async function sweepStale(): Promise<string[]> {
  requireRoot();
  return sweep(allStateFiles().map((file) => () => sweepOne(file, ownerAlive)));
}

/** Tears down every lab on the machine: all state files and every namespace named like a lab's. */
export async function sweepAll(): Promise<string[]> {
  requireRoot();
  const fromState = await sweep(allStateFiles().map((file) => () => sweepOne(file, () => false)));
  // Namespaces no state file accounts for (a state directory that was deleted, say).
  const orphans = [...new Set(netnsList().map(labOfNetns).filter((l): l is string => !!l))];
  const fromNetns = await sweep(orphans.map((lab) => async () => {
    await teardown(lab, undefined, labDir());
    return lab;
  }));
  return [...new Set([...fromState, ...fromNetns])].sort();
}

/**
 * Taking labs down: one lab by name (idempotent, from any process, after a partial `up`), every
 * lab whose owner died (`down --stale`, run before tests), or every lab on the machine
 * (`down --all`). Processes go first (recorded pids, then anything else found inside the lab's
 * namespaces), then namespaces in reverse creation order, then the files.
 */
import { join } from 'node:path';
import { isRunning, processStartTime, stopProcess } from './exec.js';
import { NETNS_PREFIX, labNetnsPrefix, labOfNetns, validateLabName } from './names.js';
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
    const pids = await netnsPids(ns);
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
  let file = stateFile(name);
  let state = readStateFile(file);
  if (!state) {
    const indexed = indexedStateFile(name);
    const s = indexed ? readStateFile(indexed) : undefined;
    if (s && indexed) {
      file = indexed;
      state = s;
    }
  }
  const dir = join(file, '..');
  return withLabLock(
    name,
    async () => {
      const existed = !!state || netnsList().some((n) => n.startsWith(labNetnsPrefix(name)));
      await teardown(name, state, dir);
      return { name, existed };
    },
    dir,
  );
}

/** Tears down every lab whose owner process is gone. Never touches a lab whose owner lives. */
export async function sweepStale(): Promise<string[]> {
  requireRoot();
  const swept: string[] = [];
  for (const file of allStateFiles()) {
    let s: LabState | undefined;
    try {
      s = readStateFile(file);
    } catch {
      continue;
    }
    if (!s || ownerAlive(s)) continue;
    await withLabLock(s.name, () => teardown(s.name, s, join(file, '..')), join(file, '..'));
    swept.push(s.name);
  }
  return swept;
}

/** Tears down every lab on the machine: all state files and every namespace named like a lab's. */
export async function sweepAll(): Promise<string[]> {
  requireRoot();
  const names = new Set<string>();
  for (const file of allStateFiles()) {
    try {
      const s = readStateFile(file);
      if (s) {
        await withLabLock(s.name, () => teardown(s.name, s, join(file, '..')), join(file, '..'));
        names.add(s.name);
      }
    } catch {
      /* unreadable state file: its namespaces are caught below */
    }
  }
  for (const ns of netnsList()) {
    const lab = ns.startsWith(NETNS_PREFIX) ? labOfNetns(ns) : undefined;
    if (lab && netnsExists(ns)) {
      await teardown(lab, undefined, labDir());
      names.add(lab);
    }
  }
  return [...names].sort();
}


/**
 * The lab's state file: everything `down` needs (namespaces, pids, directories, pods) so a fresh
 * process can tear a lab down, and the owner pid that tells a crashed run's lab (sweepable) from
 * a live one. Written atomically (temp file + rename) under a per-lab lock file, because pod and
 * agent commands for one lab may run concurrently.
 *
 * Files: $TORTIE_LAB_DIR/<lab>.json (state), $TORTIE_LAB_DIR/<lab>.lock, $TORTIE_LAB_DIR/<lab>/
 * (work dir: etcd data, logs, BIRD config and socket, agent control sockets). Every lab also
 * leaves a symlink in the index directory pointing at its state file, so a sweep finds labs made
 * with another TORTIE_LAB_DIR (tests use temporary ones).
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../util/errors.js';
import { isRunning, processStartTime } from './exec.js';

/** Default state directory: /run is a tmpfs, so a reboot (which also drops namespaces) clears it. */
export const DEFAULT_LAB_DIR = '/run/tortie-lab';
/** Index of every lab on the machine, whatever its TORTIE_LAB_DIR. */
export const LAB_INDEX_DIR = process.env.TORTIE_LAB_INDEX_DIR ?? '/run/tortie-lab-index';
/**
 * How long a command waits for another command on the same lab. Pod/agent commands hold the
 * lock for at most a few seconds; `up` of a 20-node lab holds it for tens of seconds.
 */
const LOCK_TIMEOUT_MS = 120_000;
const LOCK_POLL_MS = 50;

export function labDir(): string {
  return process.env.TORTIE_LAB_DIR || DEFAULT_LAB_DIR;
}

export interface NodeState {
  name: string;
  index: number;
  netns: string;
  ip: string;
  prefixLen: number;
  subnet: number;
  /** Fabric-side veth name (in the fabric namespace). */
  fabricIface: string;
  agent?: AgentState;
}

export interface AgentState {
  pid: number;
  startTime?: number;
  logFile: string;
  controlSocket: string;
  healthPort: number;
  startedAt: string;
}

export interface PodState {
  namespace: string;
  name: string;
  node: string;
  netns: string;
  ip: string;
  /** Host-side interface (cali...) in the node namespace. */
  iface: string;
  mac: string;
  containerId: string;
  handleId: string;
  wepKey: string;
  block: string;
  labels: Record<string, string>;
}

export interface DaemonState {
  pid: number;
  startTime?: number;
  netns: string;
  ip: string;
  logFile: string;
}

export interface EtcdState extends DaemonState {
  endpoint: string;
  unixEndpoint: string;
  dataDir: string;
}

export interface BirdState extends DaemonState {
  asNumber: number;
  configFile: string;
  controlSocket: string;
}

export interface LabState {
  version: 1;
  name: string;
  createdAt: string;
  /** 'creating' until up finished: a lab in this state was interrupted and only `down` applies. */
  phase: 'creating' | 'ready';
  /** Process that owns the lab; 0 = persistent (only `down NAME` or `down --all` remove it). */
  ownerPid: number;
  ownerStartTime?: number;
  workDir: string;
  subnets: number;
  pool: { cidr: string; blockSize: number };
  /** Every namespace created, in creation order (down deletes them in reverse). */
  namespaces: string[];
  fabricNetns: string;
  routerNetns?: string;
  nodes: NodeState[];
  etcd?: EtcdState;
  bird?: BirdState;
  pods: PodState[];
}

export function stateFile(name: string, dir = labDir()): string {
  return join(dir, `${name}.json`);
}

export function workDirOf(name: string, dir = labDir()): string {
  return join(dir, name);
}

function indexLink(name: string): string {
  return join(LAB_INDEX_DIR, name);
}

/** Writes the state atomically and records it in the index. */
export function saveLab(state: LabState, dir = labDir()): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const file = stateFile(state.name, dir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o644 });
  renameSync(tmp, file);
  mkdirSync(LAB_INDEX_DIR, { recursive: true });
  const link = indexLink(state.name);
  let current: string | undefined;
  try {
    current = readlinkSync(link);
  } catch {
    current = undefined;
  }
  if (current !== file) {
    rmSync(link, { force: true });
    symlinkSync(file, link);
  }
}

/** Reads a lab's state from a file; undefined if it does not exist. */
export function readStateFile(file: string): LabState | undefined {
  if (!existsSync(file)) return undefined;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as LabState;
  if (parsed.version !== 1 || typeof parsed.name !== 'string') throw new Error(`${file}: not a tortie lab state file`);
  return parsed;
}

/** The lab's state; throws a UserError naming the known labs if there is no such lab. */
export function loadLab(name: string, dir = labDir()): LabState {
  const s = readStateFile(stateFile(name, dir));
  if (!s) {
    const known = listLabNames(dir);
    throw new UserError(`no lab named ${JSON.stringify(name)} in ${dir}${known.length ? ` (labs: ${known.join(', ')})` : ' (no labs)'}`);
  }
  return s;
}

export function listLabNames(dir = labDir()): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/** State files of every lab on the machine: those in `dir` plus those the index points at. */
export function allStateFiles(dir = labDir()): string[] {
  const files = new Set(listLabNames(dir).map((n) => stateFile(n, dir)));
  if (existsSync(LAB_INDEX_DIR)) {
    for (const n of readdirSync(LAB_INDEX_DIR)) {
      try {
        files.add(readlinkSync(indexLink(n)));
      } catch {
        /* not a symlink: ignore */
      }
    }
  }
  return [...files].sort();
}

/** The index entry's state file for a lab name, if any (whatever directory it lives in). */
export function indexedStateFile(name: string): string | undefined {
  try {
    return readlinkSync(indexLink(name));
  } catch {
    return undefined;
  }
}

export function removeLabFiles(name: string, dir = labDir()): void {
  rmSync(stateFile(name, dir), { force: true });
  rmSync(workDirOf(name, dir), { recursive: true, force: true });
  const link = indexLink(name);
  try {
    if (readlinkSync(link) === stateFile(name, dir)) rmSync(link, { force: true });
  } catch {
    /* no index entry */
  }
}

/** True while the lab's owner process runs (persistent labs, owner 0, are always "alive"). */
export function ownerAlive(s: Pick<LabState, 'ownerPid' | 'ownerStartTime'>): boolean {
  if (s.ownerPid === 0) return true;
  if (!isRunning(s.ownerPid)) return false;
  // A recycled pid belongs to another process: the owner is gone.
  return s.ownerStartTime === undefined || processStartTime(s.ownerPid) === s.ownerStartTime;
}

/**
 * Runs fn while holding the lab's lock file (O_EXCL create). A lock whose holder died is taken
 * over; waiting is bounded.
 */
export async function withLabLock<T>(name: string, fn: () => Promise<T>, dir = labDir()): Promise<T> {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, `${name}.lock`);
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder = NaN;
      try {
        holder = Number(readFileSync(lock, 'utf8'));
      } catch {
        /* removed in between */
      }
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && !isRunning(holder)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new UserError(`lab ${name} is busy: another tortie command (pid ${holder}) holds ${lock}`);
      }
      await sleep(LOCK_POLL_MS);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

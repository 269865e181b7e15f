/**
 * Restart without loss, the kernel side. When the agent starts, the kernel still holds the routes
 * the previous instance learned over BGP (route protocol `bgp`, 81). The new speaker's RIB is
 * empty, so the calc layer would see no BGP routes and the dataplane would delete all of them in
 * its first apply — a blackout until the peers have re-sent their tables.
 *
 * The dataplane has no per-class deferral of deletions, so we keep those routes *desired* instead:
 * at startup the existing bgp-class kernel routes are fed to the calc graph as if they were best
 * paths ("stale"), exactly as BIRD keeps its kernel routes across a graceful restart. Every real
 * best-path change for a prefix replaces its stale entry; when BGP has re-converged (every peer
 * Established and its table received, see `bgpReconverged`, or a bounded time has passed) the
 * stale entries that were never refreshed are withdrawn. Until then nothing BGP-learned is
 * removed from the kernel.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { silentLogger, type Logger } from '../util/log.js';

const run = promisify(execFile);

export interface BestRoute {
  prefix: string;
  nextHop?: string;
}

export class StaleBgpRoutes {
  private readonly stale = new Set<string>();
  private swept = false;

  /** Set by the owner once its component logger exists. */
  log: Logger = silentLogger;

  constructor(private readonly sink: (changes: readonly BestRoute[]) => void) {}

  /** How many routes were found in the kernel at start (forwarding state a crash preserved). */
  seededCount = 0;

  get staleCount(): number {
    return this.stale.size;
  }

  get converged(): boolean {
    return this.swept;
  }

  /** Seeds the stale routes (before the first best-path change arrives). */
  seed(routes: readonly BestRoute[]): void {
    const fresh = routes.filter((r) => r.nextHop);
    for (const r of fresh) this.stale.add(r.prefix);
    this.seededCount += fresh.length;
    if (fresh.length) {
      this.log.info({ routes: fresh.length }, 'kept the BGP routes found in the kernel as stale until BGP has re-converged');
      this.sink(fresh);
    }
  }

  /** Real best-path changes from the speaker: they replace stale entries. */
  onBest(changes: readonly BestRoute[]): void {
    for (const c of changes) this.stale.delete(c.prefix);
    this.sink(changes);
  }

  /** BGP has re-converged: withdraw what no peer re-announced. Idempotent. */
  sweep(reason: string): void {
    if (this.swept) return;
    this.swept = true;
    const gone = [...this.stale].map((prefix) => ({ prefix }));
    this.stale.clear();
    this.log.info({ removed: gone.length, reason }, `BGP converged: ${gone.length} stale kernel routes withdrawn (${reason})`);
    if (gone.length) this.sink(gone);
  }
}

/** The kernel's bgp-class routes (protocol `proto`) in the main table, as prefix + gateway. */
export async function readKernelBgpRoutes(proto: number): Promise<BestRoute[]> {
  const { stdout } = await run('ip', ['-json', '-4', 'route', 'show', 'table', 'main', 'proto', String(proto)], { timeout: 10_000 });
  const rows = JSON.parse(stdout || '[]') as { dst?: string; gateway?: string }[];
  return rows
    .filter((r) => r.dst && r.gateway)
    .map((r) => ({ prefix: r.dst!.includes('/') ? r.dst! : `${r.dst}/32`, nextHop: r.gateway! }));
}

/** What `bgpReconverged` needs of a peer (a subset of the speaker's PeerStatus). */
export interface ConvergencePeer {
  address: string;
  state: string;
  /** When the state last changed (ISO 8601). */
  since: string;
  families: string[];
  endOfRib?: { expected: boolean; received: string[] };
}

/**
 * Has BGP re-converged after a start: has every peer sent its initial IPv4 unicast table? Returns
 * the reason when it has, else undefined. Every peer must be Established; then
 * - a peer that sent End-of-RIB for IPv4 unicast is done (RFC 4724 §2: the marker follows the
 *   initial table), and so is one whose session does not carry IPv4;
 * - a graceful-restart peer that owes End-of-RIB is waited for (the caller's overall cap bounds
 *   the wait for one that never sends it);
 * - a peer without graceful restart may never send the marker: it is done once it has been
 *   Established for `settleMs` and no best path has changed for `settleMs` (a peer sends its
 *   table right after the session comes up).
 */
export function bgpReconverged(peers: readonly ConvergencePeer[], o: { now: number; lastBestAt: number; settleMs: number }): string | undefined {
  if (peers.length === 0) return 'no BGP peers';
  let quietRule = false;
  for (const p of peers) {
    if (p.state !== 'Established') return undefined;
    if (!p.families.includes('ipv4') || p.endOfRib?.received.includes('ipv4')) continue;
    if (p.endOfRib?.expected) return undefined;
    if (o.now - Date.parse(p.since) < o.settleMs || o.now - o.lastBestAt < o.settleMs) return undefined;
    quietRule = true;
  }
  return quietRule
    ? `every peer Established; End-of-RIB received from the graceful-restart peers, the others quiet for ${o.settleMs / 1000} s`
    : 'every peer sent End-of-RIB for IPv4 unicast';
}

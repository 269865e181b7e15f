/**
 * The RIB proper: Adj-RIB-In per peer, Loc-RIB, Adj-RIB-Out per peer (RFC 4271 §3.2), the
 * decision process (./decision.ts), import/export policy at the boundary, route reflection
 * (RFC 4456) and the graceful-restart helper role (RFC 4724 §4.2).
 *
 * Memory layout (a route reflector may hold a million paths):
 *
 *   locRib: Map<PrefixKey, Path | Dest>   a Path when the prefix has one path (the common case),
 *                                      a Dest { paths[], reason } with the best first otherwise;
 *                                      keyed by a number for IPv4 (./prefix-key.ts)
 *   Path { source, pathId, received, attrs, flags }   immutable, shared by every prefix with
 *                                      the same values (flyweights cached on the AttrSet)
 *   AttrStore: Map<key, AttrSet>       one frozen attribute set per distinct set
 *   peer.adjRibOut: Map<PrefixKey, AttrSet>   what we last sent that peer
 *
 * So an IPv4 prefix learned from one peer costs one Map entry (an IPv6 one also its key
 * string); nothing else is
 * allocated per prefix. A peer's Adj-RIB-In is not a separate map: it is the paths in the
 * Loc-RIB whose source is that peer (pre-policy attributes in `received`, post-policy in
 * `attrs`, rejected paths kept with `attrs = null` so a policy change can be re-applied without
 * a route refresh). A whole-peer operation (session down, stale sweep, policy change) is one
 * walk of the Loc-RIB, as in BIRD.
 *
 * Output is pulled, not pushed: changes only mark prefixes dirty (per peer, and for best-path
 * consumers), and `drainAdjRibOut` / `drainBestChanges` compute the final state, so a burst of
 * changes to one prefix costs one UPDATE and one kernel route write.
 */
import type { Logger } from '../../util/log.js';
import { silentLogger } from '../../util/log.js';
import { UserError } from '../../util/errors.js';
import {
  afiSafiKey,
  type AfiSafiKey,
  type Nlri,
  type PathAttributes,
  type UpdateMessage,
} from '../wire/types.js';
import { isEndOfRib } from '../wire/update.js';
import type { PolicyContext } from '../policy/types.js';
import { canonicalPrefix } from '../policy/prefix.js';
import { AttrStore, asPathCount, type AttrSet } from './attrs.js';
import { selectBest, type DecisionContext } from './decision.js';
import { exportAttrs, mayExport, type ExportContext } from './export.js';
import { keyFamily, keyText, prefixKey, type PrefixKey } from './prefix-key.js';
import {
  BEST_REASONS,
  BEST_REASON_INDEX,
  Dest,
  FAMILY_KEYS,
  FLAG_STALE,
  Path,
  PeerRecord,
  ipv4ToNumber,
  isStale,
  rejectFlags,
  rejectReason,
  type FamilyIndex,
} from './path.js';
import type {
  AdjRibOutDelta,
  AnnounceGroup,
  BestChange,
  BestPath,
  BestPathReason,
  PeerConfig,
  PeerDownOptions,
  PeerId,
  PeerSession,
  PeerStats,
  PrefixView,
  RejectReason,
  RibListener,
  RibOptions,
  RibStats,
} from './types.js';

/** What one `applyUpdate` did, for the speaker's logs and metrics. */
export interface UpdateResult {
  /** Set when the UPDATE was an End-of-RIB marker (RFC 4724 §2) for this family. */
  endOfRib?: AfiSafiKey;
  announced: number;
  withdrawn: number;
  /** Prefixes in families we did not negotiate or do not support, ignored. */
  ignored: number;
  /** Stale paths removed because of an End-of-RIB. */
  swept: number;
}

/**
 * Flyweight paths cached per attribute set. A set is shared by one peer's routes with, at most,
 * a stale twin and a few add-path ids; past this, paths are simply not shared.
 */
const FLYWEIGHTS_PER_SET = 8;

/** One cached export rewrite within a drain; holds a reference on `out`. */
interface ExportMemo {
  source: PeerRecord | null;
  out: AttrSet;
}

/** The families the RIB holds: IPv4 and IPv6 unicast (RFC 4760 AFI 1/2, SAFI 1). */
const SUPPORTED_FAMILIES: ReadonlySet<AfiSafiKey> = new Set<AfiSafiKey>(['1/1', '2/1']);

function familyIndexOf(key: AfiSafiKey): FamilyIndex | undefined {
  return key === '1/1' ? 0 : key === '2/1' ? 1 : undefined;
}

export class Rib {
  private readonly localAs: number;
  private readonly routerId: string;
  private readonly clusterId: string;
  private readonly log: Logger;
  private readonly decision: DecisionContext;
  private readonly exportCtx: ExportContext;
  private readonly store = new AttrStore();
  private readonly locRib = new Map<PrefixKey, Path | Dest>();
  private readonly peers = new Map<PeerId, PeerRecord>();
  /** Established peers, as an array: walked for every best-path change. */
  private upPeers: PeerRecord[] = [];
  /**
   * Best-path changes since the last drain, in two logs. `newLog*`: prefixes that were not in
   * the Loc-RIB, index for index their key, their text as received (the decoder's string, so
   * the drain makes none) and the path they came with. That is the whole of an initial table
   * load, the case that has to be fast: the drain needs no de-duplication and no Loc-RIB
   * lookups. `changeLog`: every other change, possibly repeated; the drain de-duplicates it and
   * reads the final state. Logs, not Sets: appending is several times cheaper than hashing.
   */
  private newLogKeys: PrefixKey[] = [];
  private newLogTexts: string[] = [];
  private newLogPaths: Path[] = [];
  private changeLog: PrefixKey[] = [];
  private listener: RibListener = {};
  private held = false;
  private pathCount = 0;
  private readonly rejectedCount: Record<RejectReason, number> = {
    'as-loop': 0,
    'originator-loop': 0,
    'cluster-loop': 0,
    'import-policy': 0,
  };

  constructor(opts: RibOptions) {
    if (Number.isNaN(ipv4ToNumber(opts.routerId))) {
      throw new UserError(`router id "${opts.routerId}" is not a dotted-quad IPv4 address`, { code: 'E_BAD_ROUTER_ID' });
    }
    this.localAs = opts.localAs;
    this.routerId = opts.routerId;
    this.clusterId = opts.clusterId ?? opts.routerId;
    this.log = (opts.logger ?? silentLogger).child({ component: 'bgp-rib' });
    this.decision = {
      localAs: opts.localAs,
      routerIdNum: ipv4ToNumber(opts.routerId),
      alwaysCompareMed: opts.alwaysCompareMed ?? false,
    };
    this.exportCtx = { localAs: opts.localAs, routerId: opts.routerId, clusterId: this.clusterId };
  }

  /** Registers for "output pending" notifications (replaces any earlier listener). */
  setListener(listener: RibListener): void {
    this.listener = listener;
  }

  // ------------------------------------------------------------------ peers

  addPeer(peerId: PeerId, config: PeerConfig): void {
    if (this.peers.has(peerId)) throw new Error(`BGP RIB: peer ${peerId} already added`);
    this.peers.set(peerId, new PeerRecord(peerId, config, this.localAs));
  }

  /**
   * Changes how we treat a peer without touching its session: RR client flag, next-hop and
   * AS-loop options, policies. Import-side changes are re-applied to the routes already
   * received (soft reconfiguration: we keep them pre-policy); export-side ones re-evaluate the
   * peer's whole Adj-RIB-Out, sending only the differences. Address and AS cannot change: remove
   * and re-add the peer.
   */
  reconfigurePeer(peerId: PeerId, config: PeerConfig): void {
    const peer = this.mustGet(peerId);
    if (config.address !== peer.address || config.asn !== peer.asn) {
      throw new Error(`BGP RIB: peer ${peerId} address/AS changed; remove and re-add it`);
    }
    const importChanged =
      config.importPolicy !== peer.importPolicy || (config.allowedLocalAsNumbers ?? 0) !== peer.allowedLocalAsNumbers;
    const rrChanged = (config.routeReflectorClient ?? false) !== peer.routeReflectorClient;
    const exportChanged =
      config.exportPolicy !== peer.exportPolicy ||
      (config.nextHopSelf ?? false) !== peer.nextHopSelf ||
      (config.keepOriginalNextHop ?? false) !== peer.keepOriginalNextHop;
    peer.routeReflectorClient = config.routeReflectorClient ?? false;
    peer.nextHopSelf = config.nextHopSelf ?? false;
    peer.keepOriginalNextHop = config.keepOriginalNextHop ?? false;
    peer.allowedLocalAsNumbers = config.allowedLocalAsNumbers ?? 0;
    peer.importPolicy = config.importPolicy;
    peer.exportPolicy = config.exportPolicy;
    if (importChanged) this.reimport(peer);
    // Whether a peer is an RR client changes what every other iBGP peer may receive from it.
    if (rrChanged) for (const p of this.upPeers) this.markAll(p);
    else if (exportChanged) this.markAll(peer);
  }

  /** Replaces a peer's import and/or export policy (undefined = accept all). See reconfigurePeer. */
  setPolicy(peerId: PeerId, policies: Pick<PeerConfig, 'importPolicy' | 'exportPolicy'>): void {
    const peer = this.mustGet(peerId);
    if ('importPolicy' in policies && policies.importPolicy !== peer.importPolicy) {
      peer.importPolicy = policies.importPolicy;
      this.reimport(peer);
    }
    if ('exportPolicy' in policies && policies.exportPolicy !== peer.exportPolicy) {
      peer.exportPolicy = policies.exportPolicy;
      this.markAll(peer);
    }
  }

  /**
   * The session reached Established. Paths still held stale from a graceful restart stay until
   * re-announced or swept. The whole Loc-RIB becomes pending for this peer (drainAdjRibOut).
   */
  peerUp(peerId: PeerId, session: PeerSession): void {
    const peer = this.mustGet(peerId);
    const rid = ipv4ToNumber(session.routerId);
    if (Number.isNaN(rid)) throw new Error(`BGP RIB: peer ${peerId} router id "${session.routerId}" is not IPv4`);
    if (peer.up) throw new Error(`BGP RIB: peerUp for ${peerId}, which is already up (call peerDown first)`);
    peer.session = session;
    peer.routerId = session.routerId;
    peer.routerIdNum = rid;
    this.upPeers.push(peer);
    this.releaseAdjRibOut(peer);
    this.markAll(peer);
    this.log.info({ peer: peerId, routerId: session.routerId, families: [...session.families] }, 'peer up');
  }

  /**
   * The session went down. With `gracefulRestart`, the peer's routes in those families stay
   * (and stay best if they were), marked stale, until re-announced, swept by `endOfRib` /
   * `sweepStale`, or the peer goes down again without graceful restart. Otherwise they are
   * withdrawn now. Returns how many paths were removed.
   */
  peerDown(peerId: PeerId, opts: PeerDownOptions = {}): number {
    const peer = this.mustGet(peerId);
    if (peer.up) {
      peer.session = undefined;
      this.upPeers = this.upPeers.filter((p) => p !== peer);
    }
    this.releaseAdjRibOut(peer);
    peer.pending = new Set();
    peer.pendingIter = undefined;
    peer.fullWalk = undefined;
    let removed = 0;
    const gr = opts.gracefulRestart;
    if (gr) {
      const keep = new Set<FamilyIndex>();
      for (const f of gr.families ?? FAMILY_KEYS) {
        const i = familyIndexOf(f);
        if (i !== undefined) keep.add(i);
      }
      let stale = 0;
      removed = this.walkPeer(peer, (prefix, p) => {
        if (!keep.has(keyFamily(prefix))) return null;
        if (isStale(p)) return p;
        stale++;
        return this.withFlags(p, p.flags | FLAG_STALE);
      });
      this.log.info({ peer: peerId, stale, removed }, 'peer down, graceful restart: routes kept as stale');
    } else {
      removed = this.walkPeer(peer, () => null);
      this.log.info({ peer: peerId, removed }, 'peer down: routes withdrawn');
    }
    return removed;
  }

  /** Forgets a peer and withdraws everything it sent. */
  removePeer(peerId: PeerId): void {
    this.peerDown(peerId);
    this.peers.delete(peerId);
  }

  // ------------------------------------------------------------------ ingest

  /**
   * Applies one decoded UPDATE from an Established peer: withdrawals (classic and MP_UNREACH),
   * then announcements (classic NLRI with NEXT_HOP, MP_REACH with its next hop), or all of them
   * as withdrawals when the decoder said treat-as-withdraw (RFC 7606). An End-of-RIB marker
   * sweeps the family's stale paths.
   */
  applyUpdate(peerId: PeerId, update: UpdateMessage): UpdateResult {
    const peer = this.mustGet(peerId);
    const session = peer.session;
    if (!session) throw new Error(`BGP RIB: UPDATE from peer ${peerId} that is not Established`);
    const result: UpdateResult = { announced: 0, withdrawn: 0, ignored: 0, swept: 0 };
    const eorFamily = isEndOfRib(update);
    if (eorFamily !== undefined) {
      const eor = afiSafiKey(eorFamily.afi, eorFamily.safi);
      result.endOfRib = eor;
      const fam = familyIndexOf(eor);
      if (fam !== undefined) result.swept = this.sweep(peer, fam);
      return result;
    }
    const wk = update.withdrawnKeys;
    const withdrawn = update.withdrawn;
    if (wk !== undefined && wk.length === withdrawn.length) {
      for (let i = 0; i < withdrawn.length; i++) result.withdrawn += this.removePath(wk[i]!, peer, withdrawn[i]!.pathId ?? 0) ? 1 : 0;
    } else for (const n of withdrawn) result.withdrawn += this.removePath(prefixKey(n.prefix), peer, n.pathId ?? 0) ? 1 : 0;
    const mpu = update.mpUnreach;
    if (mpu) {
      if (this.familyOk(session, mpu.afi, mpu.safi)) {
        for (const n of mpu.withdrawn) result.withdrawn += this.removePath(prefixKey(n.prefix), peer, n.pathId ?? 0) ? 1 : 0;
      } else result.ignored += mpu.withdrawn.length;
    }
    const mpr = update.mpReach;
    const mpOk = mpr !== undefined && this.familyOk(session, mpr.afi, mpr.safi);
    if (mpr && !mpOk) result.ignored += mpr.nlri.length;
    if (update.treatAsWithdraw) {
      // The keys are of the NLRI bytes, valid whatever was wrong with the attributes.
      const nk = update.nlriKeys;
      const nlri = update.nlri;
      if (nk !== undefined && nk.length === nlri.length) {
        for (let i = 0; i < nlri.length; i++) result.withdrawn += this.removePath(nk[i]!, peer, nlri[i]!.pathId ?? 0) ? 1 : 0;
      } else for (const n of nlri) result.withdrawn += this.removePath(prefixKey(n.prefix), peer, n.pathId ?? 0) ? 1 : 0;
      if (mpr && mpOk) for (const n of mpr.nlri) result.withdrawn += this.removePath(prefixKey(n.prefix), peer, n.pathId ?? 0) ? 1 : 0;
      return result;
    }
    if (update.nlri.length > 0) result.announced += this.ingest(peer, update.attrs, update.nlri, 0, update.nlriKeys);
    if (mpr && mpOk && mpr.nlri.length > 0) {
      const attrs: PathAttributes = { ...update.attrs, nextHop: mpr.nextHops[0] };
      result.announced += this.ingest(peer, attrs, mpr.nlri, mpr.afi === 2 ? 1 : 0, undefined);
    }
    return result;
  }

  /** End-of-RIB for a family (RFC 4724 §4.2): removes that peer's paths still marked stale. */
  endOfRib(peerId: PeerId, afi: number, safi: number): number {
    const fam = familyIndexOf(afiSafiKey(afi, safi));
    return fam === undefined ? 0 : this.sweep(this.mustGet(peerId), fam);
  }

  /**
   * Removes a peer's stale paths (all families, or one AFI): the speaker calls this when the
   * restart timer or the stale-path timer of RFC 4724 §4.2 expires. Returns the count removed.
   */
  sweepStale(peerId: PeerId, afi?: number): number {
    const peer = this.mustGet(peerId);
    if (afi === undefined) return this.sweep(peer, undefined);
    return afi === 1 ? this.sweep(peer, 0) : afi === 2 ? this.sweep(peer, 1) : 0;
  }

  // ------------------------------------------------------------------ local origination

  /**
   * Originates `prefix` from this node (Calico: an affine IPAM block, a service CIDR). ORIGIN
   * defaults to IGP and AS_PATH to empty; with no NEXT_HOP, each peer gets our session address.
   * Throws UserError on a malformed prefix.
   */
  announce(prefix: string, attrs: PathAttributes = {}): void {
    const key = prefixKey(canonicalPrefix(prefix));
    const a: PathAttributes = { ...attrs, origin: attrs.origin ?? 0, asPath: attrs.asPath ?? [] };
    const set = this.store.acquire(a);
    this.upsert(key, keyFamily(key), null, 0, set, undefined, undefined);
    this.store.release(set);
  }

  /** Stops originating `prefix`; returns false when we were not originating it. */
  withdraw(prefix: string): boolean {
    return this.removePath(prefixKey(canonicalPrefix(prefix)), null, 0);
  }

  // ------------------------------------------------------------------ restarting-speaker support

  /**
   * Holds all advertisements (drains return nothing; changes keep accumulating) — for RFC 4724
   * §4.1's restarting speaker, which must not advertise until it has re-learned its peers'
   * routes (End-of-RIB from each, or the selection-deferral timer).
   */
  holdExports(): void {
    this.held = true;
  }

  /** Ends `holdExports`; peers with pending output are notified. */
  releaseExports(): void {
    if (!this.held) return;
    this.held = false;
    for (const p of this.upPeers) {
      if (p.fullWalk || p.pending.size > 0) this.notifyPeer(p.id);
    }
  }

  get exportsHeld(): boolean {
    return this.held;
  }

  // ------------------------------------------------------------------ outputs

  /**
   * Computes what must be sent to `peerId` to bring it from what we last sent to what it
   * should have now, and records it as sent. Announcements are grouped by (family, attribute
   * set) so the encoder packs many prefixes per UPDATE. `maxPrefixes` bounds the work per call
   * (backpressure); `more` says there is still pending output.
   */
  drainAdjRibOut(peerId: PeerId, maxPrefixes = Infinity): AdjRibOutDelta {
    const peer = this.mustGet(peerId);
    const delta: AdjRibOutDelta = { announce: [], withdraw: [], more: false };
    if (!peer.up || this.held) return delta;
    const groups: [Map<AttrSet, AnnounceGroup>, Map<AttrSet, AnnounceGroup>] = [new Map(), new Map()];
    const withdraws: [string[], string[]] = [[], []];
    // best attrs → exported attrs, when no export policy changed them; holds one ref per entry.
    const memo: [Map<AttrSet, ExportMemo>, Map<AttrSet, ExportMemo>] = [new Map(), new Map()];
    const step = (prefix: PrefixKey, v: Path | Dest | undefined): void => {
      const fam = keyFamily(prefix);
      const desired = this.exportFor(prefix, fam, peer, memo[fam], v);
      const current = peer.adjRibOut.get(prefix);
      if (desired === current) {
        if (desired) this.store.release(desired);
        return;
      }
      if (current) this.store.release(current);
      if (desired) {
        if (!current) peer.counters[fam].advertised++;
        peer.adjRibOut.set(prefix, desired);
        let g = groups[fam].get(desired);
        if (!g) {
          g = { afi: fam + 1, safi: 1, attrs: desired.value, prefixes: [] };
          groups[fam].set(desired, g);
        }
        g.prefixes.push(keyText(prefix));
      } else if (current) {
        peer.counters[fam].advertised--;
        peer.adjRibOut.delete(prefix);
        withdraws[fam].push(keyText(prefix));
      }
    };
    let n = 0;
    // 1. A full walk (session up, export change): the Loc-RIB itself, then — only if we had sent
    //    something before the walk began — what we sent that is no longer in it. Live Map
    //    iterators, kept across bounded calls; changes behind the walk land in `pending` below.
    while (n < maxPrefixes && peer.fullWalk) {
      const w = peer.fullWalk;
      if (w.outKeys === undefined) {
        const r = w.entries.next();
        if (r.done) {
          if (!w.hadOutput) peer.fullWalk = undefined;
          else w.outKeys = peer.adjRibOut.keys();
          continue;
        }
        step(r.value[0], r.value[1]);
      } else {
        const r = w.outKeys.next();
        if (r.done) {
          peer.fullWalk = undefined;
          continue;
        }
        if (!this.locRib.has(r.value)) step(r.value, undefined);
      }
      n++;
    }
    // 2. Prefixes changed since they were last looked at. One live iterator across calls: V8
    //    leaves deleted Set entries as holes until it rehashes, so restarting at the front on
    //    every bounded drain would re-skip them (quadratic); it also sees prefixes added behind it.
    const pending = peer.pending;
    if (n < maxPrefixes && pending.size > 0) {
      let it = peer.pendingIter;
      if (it === undefined || peer.pendingIterOf !== pending) {
        it = pending.values();
        peer.pendingIter = it;
        peer.pendingIterOf = pending;
      }
      while (n < maxPrefixes) {
        const next = it.next();
        if (next.done) {
          peer.pendingIter = undefined;
          break;
        }
        pending.delete(next.value);
        step(next.value, this.locRib.get(next.value));
        n++;
      }
    }
    for (const m of memo) for (const e of m.values()) this.store.release(e.out);
    for (const fam of [0, 1] as const) {
      for (const g of groups[fam].values()) delta.announce.push(g);
      if (withdraws[fam].length > 0) delta.withdraw.push({ afi: fam + 1, safi: 1, prefixes: withdraws[fam] });
    }
    delta.more = peer.fullWalk !== undefined || pending.size > 0;
    if (pending.size === 0) peer.pendingIter = undefined;
    return delta;
  }

  /**
   * The whole Adj-RIB-Out of a peer as announcement groups: the answer to a ROUTE-REFRESH
   * (RFC 2918), optionally for one family. Pending changes are not included (drain them too).
   */
  dumpAdjRibOut(peerId: PeerId, afi?: number): AnnounceGroup[] {
    const peer = this.mustGet(peerId);
    const groups = new Map<string, AnnounceGroup>();
    for (const [prefix, set] of peer.adjRibOut) {
      const fam = keyFamily(prefix);
      if (afi !== undefined && afi !== fam + 1) continue;
      const k = `${fam}|${set.key}`;
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { afi: fam + 1, safi: 1, attrs: set.value, prefixes: [] }));
      g.prefixes.push(keyText(prefix));
    }
    return [...groups.values()];
  }

  /** Best-path changes since the last drain, one per prefix, final state only. */
  drainBestChanges(): BestChange[] {
    const keys = this.newLogKeys;
    const texts = this.newLogTexts;
    const paths = this.newLogPaths;
    const changed = this.changeLog;
    this.newLogKeys = [];
    this.newLogTexts = [];
    this.newLogPaths = [];
    this.changeLog = [];
    const out: BestChange[] = new Array<BestChange>(keys.length + changed.length);
    let n = 0;
    if (changed.length === 0) {
      // Only new prefixes, each logged once with the path it still has (a later change of its
      // best path would be in changeLog).
      for (let i = 0; i < keys.length; i++) out[n++] = { prefix: texts[i]!, best: this.onlyPathView(paths[i]!) };
      return out;
    }
    const seen = new Set<PrefixKey>();
    for (const key of changed) {
      if (seen.has(key)) continue;
      seen.add(key);
      const best = this.bestOf(key);
      const text = keyText(key);
      out[n++] = best ? { prefix: text, best } : { prefix: text };
    }
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (seen.has(key)) continue;
      seen.add(key);
      out[n++] = { prefix: texts[i]!, best: this.onlyPathView(paths[i]!) };
    }
    out.length = n;
    return out;
  }

  /** Every prefix's current best path: for a full resync of the kernel route reconciler. */
  *bestPaths(): IterableIterator<{ prefix: string; best: BestPath }> {
    for (const prefix of this.locRib.keys()) {
      const best = this.bestOf(prefix);
      if (best) yield { prefix: keyText(prefix), best };
    }
  }

  // ------------------------------------------------------------------ status

  /** Every path for `prefix`, which one won and why each loser lost. */
  lookup(prefix: string): PrefixView | undefined {
    const key = canonicalPrefix(prefix);
    const v = this.locRib.get(prefixKey(key));
    if (v === undefined) return undefined;
    const paths = v instanceof Dest ? v.paths : [v];
    const candidates = paths.filter((p) => p.attrs !== null);
    const eliminated = new Map<Path, BestPathReason>();
    if (candidates.length > 0) selectBest(candidates, this.decision, eliminated);
    const best = this.bestPathOf(v);
    const view: PrefixView = { prefix: key, paths: [] };
    if (best) view.reason = v instanceof Dest ? BEST_REASONS[v.reason]! : 'only-path';
    for (const p of paths) {
      const rej = rejectReason(p);
      view.paths.push({
        peerId: p.source ? p.source.id : null,
        pathId: p.pathId,
        received: p.received.value,
        ...(p.attrs ? { attrs: p.attrs.value } : {}),
        ...(rej ? { rejected: rej } : {}),
        stale: isStale(p),
        best: p === best,
        ...(eliminated.has(p) ? { eliminatedBy: eliminated.get(p)! } : {}),
      });
    }
    return view;
  }

  stats(): RibStats {
    const peers: PeerStats[] = [];
    for (const p of this.peers.values()) {
      const families: PeerStats['families'] = {};
      p.counters.forEach((c, i) => {
        if (c.received > 0 || c.advertised > 0 || p.session?.families.has(FAMILY_KEYS[i]!)) families[FAMILY_KEYS[i]!] = { ...c };
      });
      peers.push({ peerId: p.id, up: p.up, families });
    }
    return {
      prefixes: this.locRib.size,
      paths: this.pathCount,
      attrSets: this.store.size,
      peers,
      rejected: { ...this.rejectedCount },
    };
  }

  // ------------------------------------------------------------------ internals

  /**
   * Listener calls are the owner's code running in the middle of a RIB change: a throw there
   * must not leave a prefix half-updated, so it is logged and swallowed.
   */
  private notifyPeer(peerId: PeerId): void {
    try {
      this.listener.adjRibOutPending?.(peerId);
    } catch (e) {
      this.log.error({ peer: peerId, err: e }, 'adjRibOutPending listener threw');
    }
  }

  private notifyBest(): void {
    try {
      this.listener.bestChangesPending?.();
    } catch (e) {
      this.log.error({ err: e }, 'bestChangesPending listener threw');
    }
  }

  private mustGet(peerId: PeerId): PeerRecord {
    const p = this.peers.get(peerId);
    if (!p) throw new Error(`BGP RIB: unknown peer ${peerId}`);
    return p;
  }

  private familyOk(session: PeerSession, afi: number, safi: number): boolean {
    const k = afiSafiKey(afi, safi);
    return SUPPORTED_FAMILIES.has(k) && session.families.has(k);
  }

  /** Import checks that depend only on the attributes: run once per UPDATE, not per prefix. */
  private loopCheck(peer: PeerRecord, a: Readonly<PathAttributes>): RejectReason | undefined {
    if (asPathCount(a.asPath, this.localAs) > peer.allowedLocalAsNumbers) return 'as-loop';
    if (peer.ibgp) {
      if (a.originatorId === this.routerId) return 'originator-loop';
      if (a.clusterList?.includes(this.clusterId)) return 'cluster-loop';
    }
    return undefined;
  }

  private ingest(
    peer: PeerRecord,
    raw: Readonly<PathAttributes>,
    nlri: readonly Nlri[],
    fam: FamilyIndex,
    keys: readonly number[] | undefined,
  ): number {
    let attrs = raw;
    if (!peer.ibgp && attrs.localPref !== undefined) {
      // RFC 4271 §5.1.5: LOCAL_PREF from an external peer is ignored (RFC 7606 §7.5: discarded).
      attrs = { ...attrs };
      delete (attrs as PathAttributes).localPref;
    }
    const set = this.store.acquire(attrs);
    const verdict = this.loopCheck(peer, set.value);
    if (keys !== undefined && keys.length === nlri.length) {
      // The decoder's IPv4 keys: no prefix text is parsed (see prefix-key.ts).
      for (let i = 0; i < nlri.length; i++) {
        const n = nlri[i]!;
        this.upsert(keys[i]!, 0, peer, n.pathId ?? 0, set, verdict, n.prefix);
      }
    } else {
      for (const n of nlri) {
        const key = prefixKey(n.prefix);
        this.upsert(key, fam, peer, n.pathId ?? 0, set, verdict, undefined);
      }
    }
    this.store.release(set);
    return nlri.length;
  }

  /** Post-policy attributes for a received path (with a reference taken), or the reject reason. */
  private importAttrs(
    prefix: PrefixKey,
    /** The prefix's text when the caller has it: the policy gets it instead of a new string. */
    text: string | undefined,
    peer: PeerRecord | null,
    received: AttrSet,
    verdict: RejectReason | undefined,
  ): AttrSet | RejectReason {
    if (verdict) return verdict;
    if (peer === null || peer.importPolicy === undefined) return this.store.retain(received);
    const ctx: PolicyContext = { direction: 'import', localAs: this.localAs, peer };
    let r;
    try {
      r = peer.importPolicy(text ?? keyText(prefix), received.value, ctx);
    } catch (e) {
      // A broken policy must not take the session down: reject the route and say why.
      this.log.error({ peer: peer.id, prefix: keyText(prefix), err: e }, 'import policy threw; route rejected');
      return 'import-policy';
    }
    if (r === null) return 'import-policy';
    return r === received.value ? this.store.retain(received) : this.store.acquire(r);
  }

  /**
   * The shared Path for these values, from the flyweight cache on `received` when there is one.
   * Takes no references: the caller already holds one on `received` and on `attrs`.
   */
  private intern(source: PeerRecord | null, pathId: number, received: AttrSet, attrs: AttrSet | null, flags: number): Path {
    const fw = received.flyweights;
    if (fw !== undefined) {
      for (const p of fw) {
        if (p.source === source && p.pathId === pathId && p.attrs === attrs && p.flags === flags) return p;
      }
    }
    const p = new Path(source, pathId, received, attrs, flags);
    if (fw === undefined) received.flyweights = [p];
    else if (fw.length < FLYWEIGHTS_PER_SET) fw.push(p);
    return p;
  }

  /** Builds the path for one received route: loop verdict, import policy, flyweight. Takes refs. */
  private makePath(
    prefix: PrefixKey,
    text: string | undefined,
    source: PeerRecord | null,
    pathId: number,
    received: AttrSet,
    verdict: RejectReason | undefined,
    staleFlag: number,
  ): Path {
    const a = this.importAttrs(prefix, text, source, received, verdict);
    this.store.retain(received);
    if (typeof a === 'string') return this.intern(source, pathId, received, null, staleFlag | rejectFlags(a));
    return this.intern(source, pathId, received, a, staleFlag);
  }

  /** Bookkeeping for a path placed in the table (its references were taken by makePath). */
  private added(p: Path, fam: FamilyIndex): void {
    this.pathCount++;
    const c = p.source ? p.source.counters[fam] : undefined;
    if (c) {
      c.received++;
      if (p.attrs) c.accepted++;
      if (isStale(p)) c.stale++;
    }
    if (!p.attrs) this.rejectedCount[rejectReason(p)!]++;
  }

  /** Bookkeeping for a path taken out of the table; drops its references. */
  private removed(p: Path, fam: FamilyIndex): void {
    this.pathCount--;
    const c = p.source ? p.source.counters[fam] : undefined;
    if (c) {
      c.received--;
      if (p.attrs) c.accepted--;
      if (isStale(p)) c.stale--;
    }
    if (p.attrs) this.store.release(p.attrs);
    else this.rejectedCount[rejectReason(p)!]--;
    this.store.release(p.received);
  }

  /** Adds or replaces (implicit withdraw, RFC 4271 §3.1) the path (prefix, source, pathId). */
  private upsert(
    prefix: PrefixKey,
    fam: FamilyIndex,
    source: PeerRecord | null,
    pathId: number,
    received: AttrSet,
    verdict: RejectReason | undefined,
    /** The prefix's canonical text when the caller has it (kept for the best-path drain). */
    text: string | undefined,
  ): void {
    const v = this.locRib.get(prefix);
    const np = this.makePath(prefix, text, source, pathId, received, verdict, 0);
    if (v === undefined) {
      // The common case: first path for the prefix.
      this.locRib.set(prefix, np);
      this.added(np, fam);
      if (np.attrs) this.bestChanged(prefix, fam, null, np, text ?? keyText(prefix));
      return;
    }
    if (v instanceof Path) {
      if (v.source === source && v.pathId === pathId) {
        if (v !== np) this.locRib.set(prefix, np);
        this.added(np, fam);
        this.removed(v, fam);
        this.bestChanged(prefix, fam, v.attrs ? v : null, np.attrs ? np : null);
        return;
      }
      const d = new Dest([v, np], 0);
      this.locRib.set(prefix, d);
      this.added(np, fam);
      this.reselect(prefix, fam, d, v.attrs ? v : null);
      return;
    }
    const oldBest = v.paths[0]!.attrs ? v.paths[0]! : null;
    const i = v.paths.findIndex((p) => p.source === source && p.pathId === pathId);
    if (i >= 0) {
      this.removed(v.paths[i]!, fam);
      v.paths[i] = np;
    } else v.paths.push(np);
    this.added(np, fam);
    this.reselect(prefix, fam, v, oldBest);
  }

  /** Removes path (prefix, source, pathId); false when there was none. */
  private removePath(prefix: PrefixKey, source: PeerRecord | null, pathId: number): boolean {
    const v = this.locRib.get(prefix);
    if (v === undefined) return false;
    const fam = keyFamily(prefix);
    if (v instanceof Path) {
      if (v.source !== source || v.pathId !== pathId) return false;
      this.locRib.delete(prefix);
      this.removed(v, fam);
      if (v.attrs) this.bestChanged(prefix, fam, v, null);
      return true;
    }
    const i = v.paths.findIndex((p) => p.source === source && p.pathId === pathId);
    if (i < 0) return false;
    const oldBest = v.paths[0]!.attrs ? v.paths[0]! : null;
    this.removed(v.paths[i]!, fam);
    v.paths.splice(i, 1);
    this.reselect(prefix, fam, v, oldBest);
    return true;
  }

  /**
   * Re-runs the decision process for a multi-path prefix, moves the winner first, collapses the
   * Dest back to a bare Path when one is left, and reports any change of best path.
   */
  private reselect(prefix: PrefixKey, fam: FamilyIndex, d: Dest, oldBest: Path | null): void {
    const paths = d.paths;
    let best: Path | null = null;
    if (paths.length === 1) {
      this.locRib.set(prefix, paths[0]!);
      best = paths[0]!.attrs ? paths[0]! : null;
    } else {
      const candidates = paths.filter((p) => p.attrs !== null);
      if (candidates.length > 0) {
        const sel = selectBest(candidates, this.decision);
        best = sel.best;
        d.reason = BEST_REASON_INDEX.get(sel.reason)!;
        const i = paths.indexOf(best);
        if (i > 0) {
          paths.splice(i, 1);
          paths.unshift(best);
        }
      }
    }
    this.bestChanged(prefix, fam, oldBest, best);
  }

  /**
   * Records a possible change of best path: a change of source or attributes (not of stale
   * mark or path id, which neither the kernel nor a peer can see) marks the prefix for the
   * best-path drain and for every peer that could have received the old or the new one.
   */
  private bestChanged(prefix: PrefixKey, fam: FamilyIndex, oldBest: Path | null, best: Path | null, newText?: string): void {
    if (oldBest === best) return;
    if (oldBest !== null && best !== null && oldBest.source === best.source && oldBest.attrs === best.attrs) return;
    if (oldBest?.source) oldBest.source.counters[fam].best--;
    if (best?.source) best.source.counters[fam].best++;
    if (newText !== undefined) {
      this.newLogKeys.push(prefix);
      this.newLogTexts.push(newText);
      this.newLogPaths.push(best!);
    } else this.changeLog.push(prefix);
    // After logging: a listener may drain at once.
    if (this.newLogKeys.length + this.changeLog.length === 1) this.notifyBest();
    const peers = this.upPeers;
    for (let i = 0; i < peers.length; i++) {
      const peer = peers[i]!;
      const pending = peer.pending;
      const affected =
        (oldBest !== null && mayExport(oldBest.source, peer)) ||
        (best !== null && mayExport(best.source, peer)) ||
        (peer.adjRibOut.size > 0 && peer.adjRibOut.has(prefix));
      if (!affected) continue;
      pending.add(prefix);
      if (pending.size === 1 && !peer.fullWalk && !this.held) this.notifyPeer(peer.id);
    }
  }

  private bestPathOf(v: Path | Dest | undefined): Path | null {
    if (v === undefined) return null;
    const p = v instanceof Dest ? v.paths[0]! : v;
    return p.attrs ? p : null;
  }

  /** BestPath for a prefix whose only path is `p`: made once per flyweight and shared (read-only). */
  private onlyPathView(p: Path): BestPath {
    if (p.onlyPathView) return p.onlyPathView;
    const attrs = p.attrs!.value;
    return (p.onlyPathView = Object.freeze({ nextHop: attrs.nextHop, attrs, peerId: p.source ? p.source.id : null, reason: 'only-path' }));
  }

  private bestOf(prefix: PrefixKey): BestPath | undefined {
    const v = this.locRib.get(prefix);
    const best = this.bestPathOf(v);
    if (!best) return undefined;
    if (!(v instanceof Dest)) return this.onlyPathView(best);
    const attrs = best.attrs!.value;
    return { nextHop: attrs.nextHop, attrs, peerId: best.source ? best.source.id : null, reason: BEST_REASONS[v.reason]! };
  }

  /** The attribute set to advertise for `prefix` to `peer` (a reference taken), or null. */
  private exportFor(
    prefix: PrefixKey,
    fam: FamilyIndex,
    peer: PeerRecord,
    memo: Map<AttrSet, ExportMemo>,
    v: Path | Dest | undefined,
  ): AttrSet | null {
    const best = this.bestPathOf(v);
    if (!best || !mayExport(best.source, peer)) return null;
    // Only families negotiated on this session (RFC 4760 §7): never an IPv6 route to an IPv4-only peer.
    if (!peer.session!.families.has(FAMILY_KEYS[fam]!)) return null;
    const bestAttrs = best.attrs!;
    let value = bestAttrs.value;
    if (peer.exportPolicy) {
      const ctx: PolicyContext = { direction: 'export', localAs: this.localAs, peer, source: best.source };
      let r;
      try {
        r = peer.exportPolicy(keyText(prefix), value, ctx);
      } catch (e) {
        this.log.error({ peer: peer.id, prefix: keyText(prefix), err: e }, 'export policy threw; route not advertised');
        return null;
      }
      if (r === null) return null;
      value = r;
    }
    const plain = value === bestAttrs.value;
    if (plain) {
      // The rewrite depends only on (attributes, source, peer, family): one per distinct set.
      const hit = memo.get(bestAttrs);
      if (hit !== undefined && hit.source === best.source) return this.store.retain(hit.out);
    }
    const attrs = exportAttrs(value, best.source, peer, fam === 1, this.exportCtx);
    if (attrs.nextHop === undefined) {
      // We would have to be the next hop but have no address of this family on the session.
      if (!peer.missingNextHopLogged) {
        peer.missingNextHopLogged = true;
        this.log.warn(
          { peer: peer.id, prefix: keyText(prefix) },
          `no ${fam === 1 ? 'IPv6' : 'IPv4'} session address to use as next hop towards ${peer.id}; such routes are not advertised to it (configure a local address of that family)`,
        );
      }
      return null;
    }
    const out = this.store.acquire(attrs);
    if (plain && !memo.has(bestAttrs)) memo.set(bestAttrs, { source: best.source, out: this.store.retain(out) });
    return out;
  }

  /** Re-evaluates every prefix for `peer` (after session up or an export-side change). */
  private markAll(peer: PeerRecord): void {
    if (!peer.up) return;
    const wasIdle = !peer.fullWalk && peer.pending.size === 0;
    peer.fullWalk = { entries: this.locRib.entries(), outKeys: undefined, hadOutput: peer.adjRibOut.size > 0 };
    // The walk looks at everything; earlier marks are covered by it.
    peer.pending = new Set();
    peer.pendingIter = undefined;
    if (wasIdle && !this.held) this.notifyPeer(peer.id);
  }

  private releaseAdjRibOut(peer: PeerRecord): void {
    for (const s of peer.adjRibOut.values()) this.store.release(s);
    peer.adjRibOut.clear();
    for (const c of peer.counters) c.advertised = 0;
  }

  /**
   * Visits every path from `peer` in one walk of the Loc-RIB (like BIRD's table flush) and puts
   * `change(prefix, path)` in its place: the same path to keep it, another path to replace it
   * (whose references the callback took), null to remove it. Returns how many were removed.
   */
  private walkPeer(peer: PeerRecord, change: (prefix: PrefixKey, p: Path) => Path | null): number {
    if (peer.counters[0].received === 0 && peer.counters[1].received === 0) return 0;
    let removed = 0;
    for (const [prefix, v] of this.locRib) {
      if (v instanceof Path) {
        if (v.source !== peer) continue;
        const r = change(prefix, v);
        if (r === v) continue;
        const fam = keyFamily(prefix);
        if (r === null) {
          this.locRib.delete(prefix);
          removed++;
        } else {
          this.locRib.set(prefix, r);
          this.added(r, fam);
        }
        this.removed(v, fam);
        this.bestChanged(prefix, fam, v.attrs ? v : null, r?.attrs ? r : null);
        continue;
      }
      const paths = v.paths;
      const oldBest = paths[0]!.attrs ? paths[0]! : null;
      let touched = false;
      for (let i = 0; i < paths.length; i++) {
        const p = paths[i]!;
        if (p.source !== peer) continue;
        const r = change(prefix, p);
        if (r === p) continue;
        const fam = keyFamily(prefix);
        touched = true;
        this.removed(p, fam);
        if (r === null) {
          paths.splice(i--, 1);
          removed++;
        } else {
          paths[i] = r;
          this.added(r, fam);
        }
      }
      if (!touched) continue;
      if (paths.length === 0) {
        this.locRib.delete(prefix);
        this.bestChanged(prefix, keyFamily(prefix), oldBest, null);
      } else this.reselect(prefix, keyFamily(prefix), v, oldBest);
    }
    return removed;
  }

  /** The same path with different flags (stale mark), sharing its attribute sets; takes refs. */
  private withFlags(p: Path, flags: number): Path {
    this.store.retain(p.received);
    if (p.attrs) this.store.retain(p.attrs);
    return this.intern(p.source, p.pathId, p.received, p.attrs, flags);
  }

  private sweep(peer: PeerRecord, fam: FamilyIndex | undefined): number {
    const stale = fam === undefined ? peer.counters[0].stale + peer.counters[1].stale : peer.counters[fam].stale;
    if (stale === 0) return 0;
    const n = this.walkPeer(peer, (prefix, p) =>
      isStale(p) && (fam === undefined || keyFamily(prefix) === fam) ? null : p,
    );
    this.log.info({ peer: peer.id, family: fam === undefined ? 'all' : FAMILY_KEYS[fam], removed: n }, 'stale routes swept');
    return n;
  }

  /** Re-applies loop checks and import policy to everything received from `peer`. */
  private reimport(peer: PeerRecord): void {
    let seen = 0;
    this.walkPeer(peer, (prefix, p) => {
      seen++;
      const verdict = this.loopCheck(peer, p.received.value);
      const np = this.makePath(prefix, undefined, peer, p.pathId, p.received, verdict, p.flags & FLAG_STALE);
      if (np === p) {
        // Unchanged: give back the references makePath took.
        this.store.release(p.received);
        if (p.attrs) this.store.release(p.attrs);
      }
      return np;
    });
    this.log.info({ peer: peer.id, paths: seen }, 'import policy re-applied');
  }
}


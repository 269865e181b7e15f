/**
 * The BGP speaker: the library API the agent and `tortie bgp-speaker` use. It owns the RIB, one
 * Peer (FSM + RIB glue) per neighbour and the TCP listener that routes accepted connections to
 * the right Peer by remote address.
 *
 *   socket ─ TcpConnection (wire: framer/decode/encode) ─ PeerFsm ─ Peer ─ Rib (policy inside)
 *                                                                         └→ 'best-path-changes'
 *
 * Best-path changes are forwarded from the RIB in batches, coalesced per event-loop turn, for
 * the kernel route reconciler.
 */
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Registry } from 'prom-client';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { UserError, errorMessage } from '../util/errors.js';
import { Rib, type BestChange, type BestPath, type PrefixView } from './rib/index.js';
import type { LargeCommunity, PathAttributes } from './wire/types.js';
import { BGP_PORT } from './wire/types.js';
import { BgpMetrics } from './metrics.js';
import { DEFAULT_RESTART_TIME_S, parsePeerConfig, type PeerConfigInput, type SpeakerPeerConfig } from './config.js';
import { Peer, type PeerStatus } from './speaker/peer.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { FsmState } from './fsm/types.js';
import { fdOf, loadTcpMd5, requireTcpMd5, GTSM_TTL, gtsmMinTtl } from './fsm/md5.js';

export type { PeerStatus } from './speaker/peer.js';
export type { BestChange, BestPath, PrefixView, PathView, BestPathReason } from './rib/index.js';
export type { PeerConfigInput, SpeakerPeerConfig } from './config.js';

export interface BgpSpeakerOptions {
  routerId: string;
  asNumber: number;
  /** Where to accept peers' connections; omit to never listen (all peers active). */
  listen?: { address: string; port: number };
  /** RFC 4456 cluster id when reflecting; defaults to routerId. */
  clusterId?: string;
  logger?: Logger;
  registry?: Registry;
  /**
   * RFC 4724 restarting speaker: set the R bit in our first OPEN to each peer. When omitted, the
   * speaker checks `restartStateFile` (written by stop({ gracefulRestart: true })).
   */
  restarting?: boolean;
  restartStateFile?: string;
  /**
   * RFC 4724 §4.1 selection deferral, seconds: when restarting, the longest we hold our
   * advertisements waiting for End-of-RIB from every graceful-restart peer. Default
   * DEFAULT_SELECTION_DEFERRAL_S.
   */
  selectionDeferralTime?: number;
  clock?: Clock;
}

/**
 * Default selection deferral bound: Calico's graceful restart time (120 s, BIRD `graceful restart
 * time`), the time our peers keep our routes while we are away. BIRD bounds its own wait the same
 * way; RFC 4724 §4.1 only asks for a bound.
 */
export const DEFAULT_SELECTION_DEFERRAL_S = DEFAULT_RESTART_TIME_S;

export interface AnnounceOptions {
  nextHop?: string;
  /** "asn:value" strings or 32-bit numbers. */
  communities?: (string | number)[];
  /** "global:local1:local2" strings. */
  largeCommunities?: (string | LargeCommunity)[];
}

export interface BgpSpeakerEvents {
  /** Best paths changed; each entry is the final state of one prefix (no `best` = no route). */
  'best-path-changes': [changes: BestChange[]];
  /** A peer's session changed state. */
  'peer-state': [status: PeerStatus];
  /**
   * A peer sent End-of-RIB for a family (RFC 4724 §2): its initial table in that family is in.
   * Every best-path change the table caused has been emitted before this event.
   */
  'end-of-rib': [info: { peer: string; afi: number; safi: number }];
}

/** Session-relevant fields: changing any of these needs a new session. */
const SESSION_FIELDS = ['asNumber', 'port', 'localAddress', 'passive', 'password', 'ttlSecurity', 'holdTime', 'keepaliveTime', 'gracefulRestart', 'addPaths'] as const;

function parseCommunity(c: string | number): number {
  if (typeof c === 'number') return c >>> 0;
  const [hi, lo] = c.split(':').map(Number);
  if (!Number.isInteger(hi) || !Number.isInteger(lo) || hi! > 0xffff || lo! > 0xffff || hi! < 0 || lo! < 0) {
    throw new UserError(`community "${c}" must be "asn:value" with two 16-bit numbers`);
  }
  return ((hi! << 16) | lo!) >>> 0;
}

function parseLarge(c: string | LargeCommunity): LargeCommunity {
  if (typeof c !== 'string') return c;
  const p = c.split(':').map(Number);
  if (p.length !== 3 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 0xffffffff)) {
    throw new UserError(`large community "${c}" must be "global:local1:local2" with 32-bit numbers`);
  }
  return { globalAdmin: p[0]!, localData1: p[1]!, localData2: p[2]! };
}

export class BgpSpeaker extends EventEmitter<BgpSpeakerEvents> {
  readonly rib: Rib;
  readonly metrics: BgpMetrics;
  readonly registry: Registry;
  private readonly log: Logger;
  private readonly peersByAddr = new Map<string, Peer>();
  private server: net.Server | undefined;
  private readonly restarting: boolean;
  private bestScheduled = false;
  private started = false;
  private ribMetricsTimer: NodeJS.Timeout | undefined;
  private readonly clock: Clock;
  /** Restarting speaker: bound on how long exports stay held (RFC 4724 §4.1). */
  private deferralTimer: TimerHandle | undefined;

  constructor(private readonly opts: BgpSpeakerOptions) {
    super();
    this.log = (opts.logger ?? silentLogger).child({ component: 'bgp' });
    this.registry = opts.registry ?? new Registry();
    this.metrics = new BgpMetrics(this.registry);
    this.rib = new Rib({
      localAs: opts.asNumber,
      routerId: opts.routerId,
      ...(opts.clusterId ? { clusterId: opts.clusterId } : {}),
      logger: this.log,
    });
    this.restarting = opts.restarting ?? this.readRestartState();
    this.clock = opts.clock ?? systemClock;
    this.rib.setListener({
      adjRibOutPending: (id) => this.peersByAddr.get(id)?.scheduleExport(),
      bestChangesPending: () => this.scheduleBest(),
    });
  }

  /** The port the listener is bound to (useful with port 0), or undefined when not listening. */
  get listeningPort(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  /** Starts listening (when configured) and starts every peer added so far. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.opts.listen) await this.listen(this.opts.listen);
    if (this.restarting) this.holdExportsUntilSynced();
    for (const p of this.peersByAddr.values()) p.start();
    this.ribMetricsTimer = setInterval(() => this.metrics.ribPaths.set(this.rib.stats().paths), 5_000);
    this.ribMetricsTimer.unref();
  }

  /**
   * Stops every session. With `gracefulRestart` the TCP connections are closed without a
   * NOTIFICATION so GR-capable peers keep our routes (RFC 4724), and the restart state file is
   * written so the next start sets the R bit.
   */
  async stop(opts: { gracefulRestart?: boolean } = {}): Promise<void> {
    if (opts.gracefulRestart && this.opts.restartStateFile) {
      mkdirSync(dirname(this.opts.restartStateFile), { recursive: true });
      writeFileSync(this.opts.restartStateFile, JSON.stringify({ stoppedAt: new Date().toISOString(), pid: process.pid }) + '\n');
    }
    for (const p of this.peersByAddr.values()) p.stop({ silent: !!opts.gracefulRestart });
    if (this.ribMetricsTimer) clearInterval(this.ribMetricsTimer);
    this.deferralTimer?.cancel();
    this.deferralTimer = undefined;
    const srv = this.server;
    this.server = undefined;
    this.started = false;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }

  addPeer(input: PeerConfigInput): void {
    const cfg = parsePeerConfig(input);
    const key = normalizeAddr(cfg.address);
    if (this.peersByAddr.has(key)) throw new UserError(`peer ${cfg.address} already exists; use updatePeer`);
    if (cfg.password) requireTcpMd5(key);
    if (cfg.ttlSecurity) this.enableGtsmOnListener(key);
    const peer = new Peer({ ...cfg, address: key }, {
      localAs: this.opts.asNumber,
      routerId: this.opts.routerId,
      rib: this.rib,
      metrics: this.metrics,
      logger: this.log,
      restarting: this.restarting,
      onInitialSyncProgress: () => this.maybeReleaseExports(),
      onEndOfRib: (afi, safi) => {
        // Deliver the best-path changes of the table first: a listener that acts on "table
        // received" (the agent's stale-route sweep) must already have seen every route in it.
        this.flushBest();
        this.emit('end-of-rib', { peer: key, afi, safi });
      },
      ...(this.opts.clock ? { clock: this.opts.clock } : {}),
    });
    peer.fsm.on('state', () => this.emit('peer-state', peer.status()));
    this.peersByAddr.set(key, peer);
    this.setListenerKey(key, cfg.password);
    this.metrics.peerUp.set({ peer: key }, 0);
    this.log.info({ peer: key, asNumber: cfg.asNumber, passive: cfg.passive }, 'peer added');
    if (this.started) peer.start();
  }

  /** Applies a changed peer config; resets the session only when a session-relevant field changed. */
  updatePeer(input: PeerConfigInput): void {
    const cfg = parsePeerConfig(input);
    const key = normalizeAddr(cfg.address);
    const peer = this.peersByAddr.get(key);
    if (!peer) throw new UserError(`peer ${cfg.address} does not exist; use addPeer`);
    if (cfg.password) requireTcpMd5(key);
    if (cfg.ttlSecurity) this.enableGtsmOnListener(key);
    const next: SpeakerPeerConfig = { ...cfg, address: key };
    const old = peer.config;
    const sessionChanged = SESSION_FIELDS.some((f) => JSON.stringify(old[f]) !== JSON.stringify(next[f]));
    if (cfg.asNumber !== old.asNumber) {
      // The RIB keys a peer by address and AS: a new AS is a new peer. (Not removePeer: the
      // export hold must not see the peer gone for a moment.)
      this.dropPeer(key);
      this.addPeer(next);
      return;
    }
    if (sessionChanged) {
      if (old.password !== next.password) this.setListenerKey(key, next.password);
      this.log.info({ peer: key }, 'peer config changed: resetting the session');
      peer.resetWith(next);
    } else if (JSON.stringify(old) !== JSON.stringify(next)) {
      this.log.info({ peer: key }, 'peer config changed: applied without a session reset');
      peer.reconfigure(next);
    }
  }

  removePeer(address: string): void {
    if (this.dropPeer(normalizeAddr(address))) this.maybeReleaseExports();
  }

  private dropPeer(key: string): boolean {
    const peer = this.peersByAddr.get(key);
    if (!peer) return false;
    this.peersByAddr.delete(key);
    if (peer.config.password) this.setListenerKey(key, undefined);
    peer.remove();
    this.log.info({ peer: key }, 'peer removed');
    return true;
  }

  /**
   * True when every peer is Established and none still owes End-of-RIB for the family (default
   * IPv4 unicast): each graceful-restart peer has sent it, or does not carry the family. Peers
   * that did not negotiate graceful restart owe none and count as done here; a caller that needs
   * their tables judges them otherwise. True with no peers.
   */
  allPeersEndOfRib(afi = 1, safi = 1): boolean {
    for (const p of this.peersByAddr.values()) {
      if (p.fsm.state !== FsmState.Established || p.endOfRibPending(afi, safi)) return false;
    }
    return true;
  }

  /** True while a restarting speaker holds its advertisements (RFC 4724 §4.1). */
  get exportsHeld(): boolean {
    return this.rib.exportsHeld;
  }

  /**
   * RFC 4724 §4.1: a restarting speaker defers route selection, so it advertises nothing (our
   * peers keep our old routes meanwhile) until every graceful-restart peer sent End-of-RIB or
   * the selection deferral timer expires. Local routes announced meanwhile and routes learned
   * from peers still enter the RIB; only the UPDATEs wait.
   */
  private holdExportsUntilSynced(): void {
    const seconds = this.opts.selectionDeferralTime ?? DEFAULT_SELECTION_DEFERRAL_S;
    this.rib.holdExports();
    this.log.info(
      { selectionDeferralTime: seconds },
      `graceful restart: announcing ourselves as restarting (R bit) to peers with graceful restart; holding our advertisements until they have sent End-of-RIB (at most ${seconds}s)`,
    );
    this.deferralTimer = this.clock.after(seconds * 1000, () => {
      this.deferralTimer = undefined;
      const waiting = this.peersNotSynced();
      this.releaseExports(`selection deferral timer (${seconds}s) expired; still no End-of-RIB from ${waiting.join(', ') || 'no one'}`);
    });
  }

  private peersNotSynced(): string[] {
    return [...this.peersByAddr.values()].filter((p) => !p.initialSyncDone()).map((p) => p.id);
  }

  /**
   * Ends the hold once no graceful-restart peer is left to wait for. Only called on peer events
   * (session up, End-of-RIB, peer removed): the agent adds peers after start(), so "no peers yet"
   * must not count as "all peers done".
   */
  private maybeReleaseExports(): void {
    if (!this.rib.exportsHeld || !this.started) return;
    if (this.peersNotSynced().length > 0) return;
    this.releaseExports('every graceful-restart peer has sent End-of-RIB');
  }

  private releaseExports(why: string): void {
    if (!this.rib.exportsHeld) return;
    this.deferralTimer?.cancel();
    this.deferralTimer = undefined;
    this.log.info(`graceful restart: ${why}; advertising our routes now, then End-of-RIB`);
    this.rib.releaseExports();
    // Every up peer gets End-of-RIB, including those with nothing pending in the RIB.
    for (const p of this.peersByAddr.values()) p.exportsReleased();
  }

  /** Originates `prefix` from this node. */
  announce(prefix: string, o: AnnounceOptions = {}): void {
    const attrs: PathAttributes = {};
    if (o.nextHop) attrs.nextHop = o.nextHop;
    if (o.communities?.length) attrs.communities = o.communities.map(parseCommunity);
    if (o.largeCommunities?.length) attrs.largeCommunities = o.largeCommunities.map(parseLarge);
    this.rib.announce(prefix, attrs);
  }

  withdraw(prefix: string): boolean {
    return this.rib.withdraw(prefix);
  }

  peers(): PeerStatus[] {
    return [...this.peersByAddr.values()].map((p) => p.status());
  }

  /** The RIB for one prefix, or every prefix that has a best path. */
  routes(prefix?: string): PrefixView[] {
    if (prefix) {
      const v = this.rib.lookup(prefix);
      return v ? [v] : [];
    }
    const out: PrefixView[] = [];
    for (const c of this.rib.bestPaths()) {
      const v = this.rib.lookup(c.prefix);
      if (v) out.push(v);
    }
    return out;
  }

  /** Every prefix's current best path, for a full resync of the kernel route reconciler. */
  bestPaths(): { prefix: string; best: BestPath }[] {
    return [...this.rib.bestPaths()];
  }

  /** Registers `bgp.peers` and `bgp.routes` on the agent's control socket. */
  registerControl(server: { handle(method: string, fn: (params: unknown) => unknown): void }): void {
    server.handle('bgp.peers', () => ({ routerId: this.opts.routerId, asNumber: this.opts.asNumber, exportsHeld: this.exportsHeld, peers: this.peers() }));
    server.handle('bgp.routes', (params) => {
      const prefix = params && typeof params === 'object' && 'prefix' in params ? String((params as { prefix: unknown }).prefix) : undefined;
      return { routes: this.routes(prefix) };
    });
  }

  private async listen(l: { address: string; port: number }): Promise<void> {
    const srv = net.createServer((socket) => this.accept(socket));
    srv.on('error', (e) => this.log.error({ err: errorMessage(e) }, 'BGP listener error'));
    await new Promise<void>((resolve, reject) => {
      srv.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new UserError(
            e.code === 'EADDRINUSE'
              ? `cannot listen on ${l.address}:${l.port}: address in use (is BIRD or another speaker running? set listen.port)`
              : e.code === 'EACCES'
                ? `cannot listen on ${l.address}:${l.port}: permission denied (port ${BGP_PORT} needs root or CAP_NET_BIND_SERVICE)`
                : `cannot listen on ${l.address}:${l.port}: ${e.message}`,
          ),
        ),
      );
      srv.listen({ host: l.address, port: l.port }, () => resolve());
    });
    this.server = srv;
    for (const p of this.peersByAddr.values()) {
      if (p.config.password) this.setListenerKey(p.id, p.config.password);
      if (p.config.ttlSecurity) this.enableGtsmOnListener(p.id);
    }
    this.log.info({ address: l.address, port: l.port }, 'BGP listening');
  }

  /**
   * TCP MD5 key for a peer on the listening socket (accepted connections inherit it); an empty
   * key removes it. Without a listener (not started yet) the keys are set in listen().
   */
  private setListenerKey(peer: string, password: string | undefined): void {
    if (!this.server) return;
    if (!password && !loadTcpMd5()) return;
    try {
      requireTcpMd5(peer).setMd5(fdOf(this.server), peer, password ?? '');
    } catch (e) {
      this.log.error({ peer, err: errorMessage(e) }, 'cannot set the TCP MD5 key on the BGP listener; connections from this peer will fail');
    }
  }

  /**
   * GTSM needs our SYN-ACK to leave with TTL 255 too, and the SYN-ACK takes the listener's TTL:
   * so once any peer uses GTSM the listener sends with 255 (harmless for the others). The
   * minimum accepted TTL is set per accepted connection, for GTSM peers only.
   */
  private enableGtsmOnListener(peer: string): void {
    const addon = requireTcpMd5(peer, 'ttlSecurity (GTSM)');
    if (!this.server) return;
    try {
      addon.setTtl(fdOf(this.server), GTSM_TTL);
    } catch (e) {
      this.log.error({ peer, err: errorMessage(e) }, 'cannot set TTL 255 on the BGP listener; GTSM peers that connect to us will fail');
    }
  }

  private accept(socket: net.Socket): void {
    const remote = normalizeAddr(socket.remoteAddress ?? '');
    const peer = this.peersByAddr.get(remote);
    if (!peer) {
      this.log.warn({ remote }, `refused BGP connection from ${remote}: not a configured peer (add it to peers)`);
      socket.destroy();
      return;
    }
    const hops = peer.config.ttlSecurity;
    if (hops) {
      try {
        const addon = requireTcpMd5(remote, 'ttlSecurity (GTSM)');
        addon.setTtl(fdOf(socket), GTSM_TTL);
        addon.setMinTtl(fdOf(socket), gtsmMinTtl(hops));
      } catch (e) {
        this.log.error({ peer: remote, err: errorMessage(e) }, 'cannot apply ttlSecurity (GTSM) to the accepted connection; refusing it');
        socket.destroy();
        return;
      }
    }
    peer.incoming(socket);
  }

  private scheduleBest(): void {
    if (this.bestScheduled) return;
    this.bestScheduled = true;
    setImmediate(() => {
      this.bestScheduled = false;
      this.flushBest();
    });
  }

  private flushBest(): void {
    const changes = this.rib.drainBestChanges();
    if (changes.length > 0) this.emit('best-path-changes', changes);
  }

  private readRestartState(): boolean {
    const f = this.opts.restartStateFile;
    if (!f || !existsSync(f)) return false;
    try {
      const st = JSON.parse(readFileSync(f, 'utf8')) as { stoppedAt?: string };
      this.log.info({ stateFile: f, stoppedAt: st.stoppedAt }, 'found restart state: this start is a graceful restart');
    } catch {
      this.log.warn({ stateFile: f }, 'restart state file is unreadable; treating this start as a graceful restart anyway');
    }
    rmSync(f, { force: true });
    return true;
  }
}

function normalizeAddr(a: string): string {
  return a.replace(/^::ffff:/, '');
}

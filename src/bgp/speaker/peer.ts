/**
 * One configured neighbour: its FSM, and the glue between that FSM's events and the RIB. The FSM
 * never sees the RIB; this class turns 'established' into rib.peerUp and starts the initial
 * advertisement (followed by End-of-RIB), 'update' into rib.applyUpdate, 'down' into rib.peerDown
 * (keeping routes stale under graceful restart helper mode, RFC 4724 §4.2) and 'route-refresh'
 * into a re-send of the Adj-RIB-Out. Output is pulled from the RIB in bounded batches and stops
 * while the socket's write buffer is full.
 */
import { isIP } from 'node:net';
import type { Logger } from '../../util/log.js';
import { PeerFsm, type FsmConfig } from '../fsm/fsm.js';
import { TcpConnection } from '../fsm/connection.js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import { systemClock } from '../../util/clock.js';
import { FsmState, type DownInfo, type FsmConnection, type NegotiatedSession } from '../fsm/types.js';
import { describeNotification } from '../fsm/notification-text.js';
import { packUpdates, packWithdrawals, encodeEndOfRib, type CodecOptions } from '../wire/index.js';
import { afiSafiKey, type AfiSafiKey, type UpdateMessage, type RouteRefreshMessage } from '../wire/types.js';
import type { Rib, PeerConfig as RibPeerConfig } from '../rib/index.js';
import type { BgpMetrics } from '../metrics.js';
import type { SpeakerPeerConfig } from '../config.js';
import type { AnnounceGroup } from '../rib/index.js';

function encodeAnnounce(g: AnnounceGroup, codec: CodecOptions): Uint8Array[] {
  const nh = g.attrs.nextHop;
  return packUpdates(g.attrs, g.prefixes, codec, { afi: g.afi, safi: g.safi, ...(nh ? { nextHops: [nh] } : {}) });
}

/** Prefixes pulled from the RIB per batch: bounds the time one peer's export holds the event loop. */
const EXPORT_BATCH_PREFIXES = 2_000;
/**
 * RFC 4724 §4.2 leaves the stale-path time local; GoBGP's default is 360 s. After the peer comes
 * back, paths it has not re-announced by then (and no End-of-RIB came) are removed.
 */
const STALE_PATH_TIME_MS = 360_000;
/** At most one log line per peer per this interval about malformed UPDATEs. */
const MALFORMED_LOG_INTERVAL_MS = 10_000;
/** A connect attempt is abandoned after Calico's `connect retry time` (5 s). */
const DIAL_TIMEOUT_MS = 5_000;

export interface PeerContext {
  localAs: number;
  routerId: string;
  rib: Rib;
  metrics: BgpMetrics;
  logger: Logger;
  clock?: Clock;
  /** RFC 4724 §4.1: this process restarted; set the R bit on the first session with each peer. */
  restarting: boolean;
  /**
   * Called when this peer may have finished sending its initial routes (session up, End-of-RIB
   * received): the speaker re-checks whether a restarting speaker's export hold can end.
   */
  onInitialSyncProgress?: () => void;
  /** The peer sent End-of-RIB for a family (RFC 4724 §2): its initial table in that family is in. */
  onEndOfRib?: (afi: number, safi: number) => void;
}

/** BIRD's protocol state column: what `birdc show protocols` calls up/start/down. */
export type ProtoState = 'up' | 'start' | 'down';

export interface PeerStatus {
  address: string;
  type: SpeakerPeerConfig['type'];
  asNumber: number;
  passive: boolean;
  routeReflectorClient: boolean;
  state: FsmState;
  protoState: ProtoState;
  /** When the state last changed (ISO 8601). */
  since: string;
  /** BIRD-style INFO column: "Established", "Active Socket: Connection refused", ... */
  info: string;
  lastError: string;
  routerId?: string;
  localAddress?: string;
  holdTime?: number;
  keepaliveTime?: number;
  families: string[];
  /** Families in which the peer sends us several paths per prefix (RFC 7911 negotiated). */
  addPathReceive?: string[];
  gracefulRestart?: { peerRestartTime?: number; staleRoutes: boolean };
  /**
   * While Established: whether this peer is expected to send End-of-RIB (both OPENs carried the
   * graceful restart capability, RFC 4724 §2) and the families it has sent it for on this session.
   */
  endOfRib?: { expected: boolean; received: string[] };
  prefixes: Record<string, { received: number; accepted: number; best: number; stale: number; advertised: number }>;
  flaps: number;
}

function familyName(k: string): string {
  return k === '1/1' ? 'ipv4' : k === '2/1' ? 'ipv6' : k;
}

export class Peer {
  readonly fsm: PeerFsm;
  private cfg: SpeakerPeerConfig;
  private readonly ctx: PeerContext;
  private readonly log: Logger;
  private readonly clock: Clock;
  private exportScheduled = false;
  private waitingForDrain = false;
  private endOfRibSent = false;
  private sessionFamilies: AfiSafiKey[] = [];
  private restartTimer: TimerHandle | undefined;
  private staleTimer: TimerHandle | undefined;
  private staleFamilies = new Set<AfiSafiKey>();
  private restartingFlag: boolean;
  private flapCount = 0;
  private removed = false;
  /** Families of the current session for which the peer sent End-of-RIB. */
  private readonly endOfRibReceived = new Set<AfiSafiKey>();
  /** The peer's OPEN on the current session had the R bit (it is restarting itself). */
  private peerRestarting = false;

  constructor(cfg: SpeakerPeerConfig, ctx: PeerContext) {
    this.cfg = cfg;
    this.ctx = ctx;
    this.clock = ctx.clock ?? systemClock;
    this.restartingFlag = ctx.restarting;
    this.log = ctx.logger.child({ peer: cfg.address });
    this.fsm = new PeerFsm(this.fsmConfig(), {
      clock: this.clock,
      logger: ctx.logger,
      dial: (deliver) =>
        TcpConnection.dial(
          {
            host: this.cfg.address,
            port: this.cfg.port,
            ...(this.cfg.localAddress ? { localAddress: this.cfg.localAddress } : {}),
            ...(this.cfg.password ? { password: this.cfg.password } : {}),
            ...(this.cfg.ttlSecurity ? { ttlSecurityHops: this.cfg.ttlSecurity } : {}),
            timeoutMs: DIAL_TIMEOUT_MS,
          },
          deliver,
        ),
    });
    ctx.rib.addPeer(this.id, this.ribConfig());
    this.wire();
  }

  get id(): string {
    return this.cfg.address;
  }
  get config(): SpeakerPeerConfig {
    return this.cfg;
  }

  /** RIB-side view of the configuration (what `updatePeer` can change without a session reset). */
  ribConfig(cfg: SpeakerPeerConfig = this.cfg): RibPeerConfig {
    return {
      address: cfg.address,
      asn: cfg.asNumber,
      routeReflectorClient: cfg.routeReflectorClient,
      nextHopSelf: cfg.nextHopSelf,
      keepOriginalNextHop: cfg.keepOriginalNextHop,
    };
  }

  fsmConfig(cfg: SpeakerPeerConfig = this.cfg): FsmConfig {
    // Calico runs bird (IPv4) and bird6 (IPv6) with one session per transport family; we offer
    // the family of the session's transport, which is what BIRD 1.6 on the other end supports.
    const families: AfiSafiKey[] = isIP(cfg.address) === 6 ? ['2/1'] : ['1/1'];
    return {
      localAs: this.ctx.localAs,
      routerId: this.ctx.routerId,
      peerAs: cfg.asNumber,
      peerAddress: cfg.address,
      holdTime: cfg.holdTime,
      ...(cfg.keepaliveTime !== undefined ? { keepaliveTime: cfg.keepaliveTime } : {}),
      families,
      passive: cfg.passive,
      ...(cfg.addPaths === 'receive' ? { addPathReceive: families } : {}),
      ...(cfg.gracefulRestart ? { gracefulRestart: { restartTime: cfg.gracefulRestart.restartTime, restarting: this.restartingFlag } } : {}),
    };
  }

  start(): void {
    this.fsm.start();
  }

  /** Hands an accepted TCP connection to the FSM. */
  incoming(socket: import('node:net').Socket): void {
    const conn: TcpConnection = new TcpConnection(socket, false, (ev) => this.fsm.input(ev));
    this.fsm.input({ kind: 'tcp-incoming', conn });
  }

  /** RIB-only changes: route reflector client, next-hop handling. */
  reconfigure(cfg: SpeakerPeerConfig): void {
    this.cfg = cfg;
    this.fsm.setConfig(this.fsmConfig());
    this.ctx.rib.reconfigurePeer(this.id, this.ribConfig());
  }

  /** Changes that need a new session: Cease/Other Configuration Change, then reconnect. */
  resetWith(cfg: SpeakerPeerConfig): void {
    this.cfg = cfg;
    this.fsm.stop({ notification: { code: 6, subcode: 6, data: new Uint8Array(0) } });
    this.fsm.setConfig(this.fsmConfig());
    this.ctx.rib.reconfigurePeer(this.id, this.ribConfig());
    this.fsm.start();
  }

  /** Stops the session. `silent` (graceful restart of this process) closes TCP without NOTIFICATION. */
  stop(opts: { silent?: boolean; subcode?: number } = {}): void {
    if (opts.silent) this.fsm.stop({ silent: true });
    else this.fsm.stop({ notification: { code: 6, subcode: opts.subcode ?? 2, data: new Uint8Array(0) } });
  }

  remove(): void {
    this.removed = true;
    this.stop({ subcode: 3 });
    this.restartTimer?.cancel();
    this.staleTimer?.cancel();
    this.ctx.rib.removePeer(this.id);
    this.ctx.metrics.forgetPeer(this.id);
  }

  /** Called by the RIB listener: there is output pending for this peer. */
  scheduleExport(): void {
    if (this.exportScheduled || this.waitingForDrain) return;
    this.exportScheduled = true;
    setImmediate(() => {
      this.exportScheduled = false;
      this.exportBatch();
    });
  }

  status(): PeerStatus {
    const s = this.fsm.session;
    const st = this.fsm.state;
    const stats = this.ctx.rib.stats().peers.find((p) => p.peerId === this.id);
    const prefixes: PeerStatus['prefixes'] = {};
    for (const [k, v] of Object.entries(stats?.families ?? {})) prefixes[familyName(k)] = { ...v };
    const protoState: ProtoState = st === FsmState.Established ? 'up' : this.fsm.state === FsmState.Idle && !this.isAdminUp() ? 'down' : 'start';
    let info: string = st;
    if (st === FsmState.Active && this.cfg.passive) info = 'Passive';
    if (st !== FsmState.Established && this.fsm.lastError) info += ` ${this.fsm.lastError}`;
    return {
      address: this.cfg.address,
      type: this.cfg.type,
      asNumber: this.cfg.asNumber,
      passive: this.cfg.passive,
      routeReflectorClient: this.cfg.routeReflectorClient,
      state: st,
      protoState,
      since: new Date(this.fsm.since).toISOString(),
      info,
      lastError: this.fsm.lastError,
      ...(s
        ? {
            routerId: s.peerBgpId,
            localAddress: this.fsm.connection?.localAddress,
            holdTime: s.holdTime,
            keepaliveTime: s.keepaliveTime,
          }
        : {}),
      families: s ? [...s.families].map(familyName) : [],
      ...(s?.codec.addPathReceive && s.codec.addPathReceive.size > 0 ? { addPathReceive: [...s.codec.addPathReceive].map(familyName) } : {}),
      ...(this.cfg.gracefulRestart || s?.peerGracefulRestart
        ? { gracefulRestart: { ...(s?.peerGracefulRestart ? { peerRestartTime: s.peerGracefulRestart.restartTime } : {}), staleRoutes: this.staleFamilies.size > 0 } }
        : {}),
      ...(st === FsmState.Established && s
        ? { endOfRib: { expected: this.endOfRibExpected(), received: [...this.endOfRibReceived].map(familyName) } }
        : {}),
      prefixes,
      flaps: this.flapCount,
    };
  }

  /**
   * Does this peer owe us End-of-RIB on the current session? Only when we and the peer both
   * advertised graceful restart: RFC 4724 §2 ties the marker to the capability, and a peer without
   * it (GoBGP without graceful-restart config, some BIRD setups) may never send one.
   */
  endOfRibExpected(): boolean {
    return !!this.cfg.gracefulRestart && !!this.fsm.session?.peerGracefulRestart;
  }

  /**
   * Are we still waiting for this Established peer's End-of-RIB in the family? False when it was
   * received, when the peer does not owe one (endOfRibExpected) or when the session does not carry
   * the family; also false while the session is not up (callers check the state themselves).
   */
  endOfRibPending(afi: number, safi: number): boolean {
    const k = afiSafiKey(afi, safi);
    if (this.fsm.state !== FsmState.Established || !this.fsm.session) return false;
    return this.endOfRibExpected() && this.sessionFamilies.includes(k) && !this.endOfRibReceived.has(k);
  }

  /**
   * RFC 4724 §4.1, for a restarting speaker's route selection deferral: true once this peer has
   * nothing more to wait for. Peers we do not run graceful restart with, peers whose OPEN had no
   * GR capability and peers that are restarting themselves are not waited for; an up GR peer is
   * done when it sent End-of-RIB for every family of the session; a peer not up yet is waited
   * for (bounded by the speaker's selection deferral timer).
   */
  initialSyncDone(): boolean {
    if (!this.cfg.gracefulRestart) return true;
    const s = this.fsm.session;
    if (this.fsm.state !== FsmState.Established || !s) return false;
    if (!s.peerGracefulRestart || this.peerRestarting) return true;
    return this.sessionFamilies.every((f) => this.endOfRibReceived.has(f));
  }

  /** After a restarting speaker releases its exports: send what was held, then End-of-RIB. */
  exportsReleased(): void {
    this.scheduleExport();
  }

  private adminUpFlag = false;
  private isAdminUp(): boolean {
    return this.adminUpFlag;
  }

  // ------------------------------------------------------------------ FSM event handling

  private wire(): void {
    const f = this.fsm;
    const m = this.ctx.metrics;
    f.on('state', (_from, to, reason) => {
      if (reason === 'admin-start') this.adminUpFlag = true;
      if (reason === 'admin-stop') this.adminUpFlag = false;
      void to;
    });
    f.on('established', (s) => this.onEstablished(s));
    f.on('down', (d) => this.onDown(d));
    f.on('update', (u) => this.onUpdate(u));
    f.on('route-refresh', (r) => this.onRouteRefresh(r));
    f.on('drain', () => {
      if (!this.waitingForDrain) return;
      this.waitingForDrain = false;
      this.scheduleExport();
    });
    f.on('notification-sent', (n) => {
      m.notificationsSent.inc({ peer: this.id, code: String(n.code), subcode: String(n.subcode) });
      this.log.warn({ code: n.code, subcode: n.subcode }, `sent NOTIFICATION ${n.code}/${n.subcode} (${describeNotification(n)})`);
    });
    f.on('notification-received', (n) => m.notificationsReceived.inc({ peer: this.id, code: String(n.code), subcode: String(n.subcode) }));
  }

  private onEstablished(s: NegotiatedSession): void {
    const conn = this.fsm.connection!;
    const local = conn.localAddress;
    this.log.info(
      { routerId: s.peerBgpId, peerAs: s.peerAs, holdTime: s.holdTime, families: [...s.families], gr: !!s.peerGracefulRestart },
      'BGP session established',
    );
    // After the first session the restart is over: later OPENs must not claim to be restarting.
    if (this.restartingFlag) {
      this.restartingFlag = false;
      this.fsm.setConfig(this.fsmConfig());
    }
    this.restartTimer?.cancel();
    this.restartTimer = undefined;
    if (this.staleFamilies.size > 0) {
      // RFC 4724 §4.2: families the peer no longer preserves (no GR, or F bit clear) go now;
      // the others wait for End-of-RIB or the stale-path timer.
      for (const fam of [...this.staleFamilies]) {
        const kept = s.peerGracefulRestart?.families.get(fam);
        if (!kept) this.sweep(fam, 'peer did not preserve forwarding state for the family');
      }
      if (this.staleFamilies.size > 0) {
        this.staleTimer = this.clock.after(STALE_PATH_TIME_MS, () => {
          for (const fam of [...this.staleFamilies]) this.sweep(fam, 'stale-path timer expired before End-of-RIB');
        });
      }
    }
    this.sessionFamilies = [...s.families];
    this.endOfRibSent = false;
    this.waitingForDrain = false;
    this.endOfRibReceived.clear();
    this.peerRestarting = !!s.peerGracefulRestart?.restarting;
    this.ctx.rib.peerUp(this.id, {
      routerId: s.peerBgpId,
      // The session's real local address in either family. An IPv6-transport session only
      // negotiates IPv6 unicast (fsmConfig), so the RIB takes its next hop from localAddressV6;
      // localAddress is what the session is bound to, never a made-up 0.0.0.0.
      localAddress: local,
      ...(isIP(local) === 6 ? { localAddressV6: local } : {}),
      families: s.families,
      ...(s.codec.addPathReceive && s.codec.addPathReceive.size > 0 ? { addPathReceive: s.codec.addPathReceive } : {}),
    });
    this.ctx.metrics.peerUp.set({ peer: this.id }, 1);
    this.scheduleExport();
    this.ctx.onInitialSyncProgress?.();
  }

  private onDown(d: DownInfo): void {
    this.flapCount++;
    this.ctx.metrics.peerUp.set({ peer: this.id }, 0);
    this.ctx.metrics.flaps.inc({ peer: this.id });
    if (this.removed) return;
    if (d.gracefulRestart) {
      const fams = [...d.gracefulRestart.families.keys()].filter((k) => this.sessionFamilies.includes(k));
      this.ctx.rib.peerDown(this.id, { gracefulRestart: { families: fams } });
      for (const f of fams) this.staleFamilies.add(f);
      const ms = d.gracefulRestart.restartTime * 1000;
      this.log.warn({ reason: d.reason, restartTime: d.gracefulRestart.restartTime, families: fams }, `session down (${d.detail}); keeping the peer's routes as stale for up to ${d.gracefulRestart.restartTime}s (graceful restart helper)`);
      this.restartTimer?.cancel();
      this.restartTimer = this.clock.after(ms, () => {
        this.restartTimer = undefined;
        if (this.fsm.state !== FsmState.Established) {
          for (const f of [...this.staleFamilies]) this.sweep(f, 'restart timer expired before the peer came back');
        }
      });
    } else {
      this.staleFamilies.clear();
      this.staleTimer?.cancel();
      this.restartTimer?.cancel();
      const removed = this.ctx.rib.peerDown(this.id);
      this.log.warn({ reason: d.reason, removed }, `session down (${d.detail}); withdrew ${removed} routes from the peer`);
    }
    this.updatePrefixMetrics();
  }

  private sweep(fam: AfiSafiKey, why: string): void {
    this.staleFamilies.delete(fam);
    const [afi] = fam.split('/').map(Number);
    const n = this.ctx.rib.sweepStale(this.id, afi);
    this.log.info({ family: fam, removed: n }, `removed ${n} stale routes: ${why}`);
    if (this.staleFamilies.size === 0) this.staleTimer?.cancel();
    this.updatePrefixMetrics();
  }

  private onUpdate(u: UpdateMessage): void {
    const m = this.ctx.metrics;
    m.updatesReceived.inc({ peer: this.id });
    if (u.diagnostics && u.diagnostics.length > 0) {
      for (const d of u.diagnostics) {
        m.malformedUpdates.inc({ peer: this.id, action: d.action });
      }
      // A peer sending a whole table of bad UPDATEs must not flood the log: one line per
      // MALFORMED_LOG_INTERVAL_MS, with the count of those not logged (the metric has them all).
      const now = this.clock.now();
      if (now - this.malformedLoggedAt < MALFORMED_LOG_INTERVAL_MS) {
        this.malformedSuppressed++;
      } else {
        if (this.malformedSuppressed > 0) this.log.warn({ suppressed: this.malformedSuppressed }, `${this.malformedSuppressed} more malformed UPDATEs from this peer were not logged`);
        this.malformedLoggedAt = now;
        this.malformedSuppressed = 0;
        this.logMalformed(u);
      }
    }
    this.applyUpdate(u);
  }

  private malformedLoggedAt = -Infinity;
  private malformedSuppressed = 0;

  private logMalformed(u: UpdateMessage): void {
    if (u.diagnostics) {
      this.log.warn(
        { diagnostics: u.diagnostics.map((d) => ({ code: d.code, action: d.action, attrType: d.attrType })) },
        `peer sent a malformed UPDATE (${u.diagnostics.map((d) => d.message).join('; ')}); ${u.treatAsWithdraw ? 'its prefixes are treated as withdrawn' : 'the bad attributes were discarded'} (RFC 7606), session stays up: fix the peer's route attributes`,
      );
    }
  }

  private applyUpdate(u: UpdateMessage): void {
    const r = this.ctx.rib.applyUpdate(this.id, u);
    if (r.endOfRib) {
      this.log.info({ family: r.endOfRib, swept: r.swept }, 'End-of-RIB received');
      if (this.staleFamilies.delete(r.endOfRib) && this.staleFamilies.size === 0) this.staleTimer?.cancel();
      this.endOfRibReceived.add(r.endOfRib);
      this.ctx.onInitialSyncProgress?.();
      const [afi, safi] = r.endOfRib.split('/').map(Number);
      this.ctx.onEndOfRib?.(afi!, safi!);
    }
    if (r.ignored > 0) this.log.debug({ ignored: r.ignored }, 'prefixes in a family not negotiated were ignored');
    this.scheduleMetrics();
  }

  private metricsScheduled = false;
  /** Prefix gauges are refreshed at most once per event-loop turn (a full table is a million UPDATEs). */
  private scheduleMetrics(): void {
    if (this.metricsScheduled) return;
    this.metricsScheduled = true;
    setTimeout(() => {
      this.metricsScheduled = false;
      this.updatePrefixMetrics();
    }, 250).unref();
  }

  updatePrefixMetrics(): void {
    const stats = this.ctx.rib.stats().peers.find((p) => p.peerId === this.id);
    if (!stats) return;
    for (const [k, v] of Object.entries(stats.families)) {
      const afi = familyName(k);
      this.ctx.metrics.prefixesReceived.set({ peer: this.id, afi }, v.received);
      this.ctx.metrics.prefixesAccepted.set({ peer: this.id, afi }, v.accepted);
    }
  }

  private onRouteRefresh(r: RouteRefreshMessage): void {
    const conn = this.fsm.connection as TcpConnection | undefined;
    const s = this.fsm.session;
    if (!conn || !s) return;
    const fam = afiSafiKey(r.afi, r.safi);
    if (!s.families.has(fam)) {
      this.log.warn({ family: fam }, 'route refresh for a family that was not negotiated; ignored');
      return;
    }
    if (r.subtype !== 0) return;
    this.log.info({ family: fam }, 'route refresh requested: re-sending our Adj-RIB-Out');
    let sent = 0;
    for (const g of this.ctx.rib.dumpAdjRibOut(this.id, r.afi)) {
      if (!s.families.has(afiSafiKey(g.afi, g.safi))) continue;
      for (const bytes of this.safeEncode(() => encodeAnnounce(g, s.codec), g.prefixes)) {
        conn.sendBytes(bytes);
        sent++;
      }
    }
    this.ctx.metrics.updatesSent.inc({ peer: this.id }, sent);
  }

  /** Pulls one batch of Adj-RIB-Out changes and writes it; reschedules itself while there is more. */
  private exportBatch(): void {
    const s = this.fsm.session;
    const conn = this.fsm.connection as TcpConnection | undefined;
    if (!s || !conn || this.fsm.state !== FsmState.Established) return;
    const delta = this.ctx.rib.drainAdjRibOut(this.id, EXPORT_BATCH_PREFIXES);
    let ok = true;
    let sent = 0;
    conn.socket.cork();
    // Only families negotiated on this session go out (a v4-only peer resets the session on an
    // IPv6 UPDATE). An encoder error is a bug on our side: log it, skip the group, never crash.
    const negotiated = (afi: number, safi: number): boolean => s.families.has(afiSafiKey(afi, safi));
    for (const w of delta.withdraw) {
      if (!negotiated(w.afi, w.safi)) continue;
      for (const bytes of this.safeEncode(() => packWithdrawals(w.prefixes, s.codec, { afi: w.afi, safi: w.safi }), w.prefixes)) {
        ok = conn.sendBytes(bytes) && ok;
        sent++;
      }
    }
    for (const g of delta.announce) {
      if (!negotiated(g.afi, g.safi)) continue;
      for (const bytes of this.safeEncode(() => encodeAnnounce(g, s.codec), g.prefixes)) {
        ok = conn.sendBytes(bytes) && ok;
        sent++;
      }
    }
    if (!delta.more && !this.endOfRibSent && !this.ctx.rib.exportsHeld) {
      // RFC 4724 §4.1: End-of-RIB after the initial advertisement, once per family.
      for (const fam of this.sessionFamilies) {
        const [afi, safi] = fam.split('/').map(Number);
        ok = conn.sendBytes(encodeEndOfRib(afi!, safi!, s.codec)) && ok;
        sent++;
      }
      this.endOfRibSent = true;
      this.log.info({ families: this.sessionFamilies }, 'initial advertisement done; End-of-RIB sent');
    }
    conn.socket.uncork();
    if (sent > 0) this.ctx.metrics.updatesSent.inc({ peer: this.id }, sent);
    if (!ok) {
      // Backpressure: continue once the socket drains.
      this.waitingForDrain = true;
      return;
    }
    if (delta.more) this.scheduleExport();
  }

  private safeEncode(fn: () => Uint8Array[], prefixes: readonly string[]): Uint8Array[] {
    try {
      return fn();
    } catch (e) {
      this.log.error(
        { err: e instanceof Error ? e.message : String(e), prefixes: prefixes.slice(0, 5), count: prefixes.length },
        'cannot encode routes for this peer; they are not advertised (a bug: please report it with this log line)',
      );
      return [];
    }
  }

  /** For the speaker: a FsmConnection is a TcpConnection in production. */
  static isTcp(c: FsmConnection | undefined): c is TcpConnection {
    return c instanceof TcpConnection;
  }
}

/**
 * The RFC 4271 §8 finite state machine for one peer. One function per state (as GoBGP's
 * fsmHandler): each takes an input and returns the next state with a reason from a closed union,
 * or null to stay. Entering a state runs its entry actions (send OPEN, arm timers); leaving
 * Established emits 'down'. The FSM only talks to a connection and emits events: it never touches
 * the RIB, which keeps it testable with a fake clock and in-memory connections.
 *
 * Inputs arrive synchronously through input(): the connection's read loop delivers each decoded
 * message as it is framed, timers deliver their expiry. Nothing here awaits, so a transition is
 * atomic with respect to every other input.
 */
import { EventEmitter } from 'node:events';
import {
  CapabilityCode,
  MessageType,
  NotifCode,
  CeaseSubcode,
  type BgpMessage,
  type OpenMessage,
  type UpdateMessage,
  type RouteRefreshMessage,
} from '../wire/types.js';
import type { Logger } from '../../util/log.js';
import { silentLogger } from '../../util/log.js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import { systemClock } from '../../util/clock.js';
import { IdleHoldBackoff } from './backoff.js';
import { collisionWinner } from './collision.js';
import { buildOpen, negotiate, validateOpen, OpenValidationError, type LocalOpenConfig } from './open.js';
import {
  FsmState,
  type DownInfo,
  type FsmConnection,
  type FsmEvents,
  type FsmInput,
  type NegotiatedSession,
  type NotificationInfo,
  type Transition,
  type TransitionReason,
} from './types.js';
import { describeNotification } from './notification-text.js';

/**
 * RFC 4271 §8.2.2: "the HoldTimer is set to a large value ... A HoldTimer value of 4 minutes is
 * suggested" while waiting for the peer's OPEN.
 */
const OPEN_WAIT_HOLD_TIME_S = 240;
/** Calico's bird.cfg: `connect retry time 5`. */
export const DEFAULT_CONNECT_RETRY_S = 5;
/** RFC 4271 §10 suggests 90 s hold time (GoBGP's default; BIRD uses 240). */
export const DEFAULT_HOLD_TIME_S = 90;

/** FSM error subcodes, RFC 6608. */
const FSM_ERR_OPENSENT = 1;
const FSM_ERR_OPENCONFIRM = 2;
const FSM_ERR_ESTABLISHED = 3;

export interface FsmConfig extends LocalOpenConfig {
  peerAddress: string;
  /** Never dial; only accept the peer's connections. */
  passive: boolean;
  connectRetryTime?: number;
  /** Idle-hold backoff bounds in ms (BIRD `error wait time`). */
  errorWaitMinMs?: number;
  errorWaitMaxMs?: number;
}

export interface FsmDeps {
  clock?: Clock;
  logger?: Logger;
  /** Starts an outgoing connection; its result arrives as 'tcp-connected' or 'tcp-failed'. */
  dial(deliver: (ev: FsmInput<FsmConnection>) => void): FsmConnection;
}

type TimerName = 'connect-retry' | 'idle-hold' | 'hold' | 'keepalive';
type Input = FsmInput<FsmConnection>;

export class PeerFsm extends EventEmitter<FsmEvents> {
  private st: FsmState = FsmState.Idle;
  private conn: FsmConnection | undefined;
  /** A second connection in its OPEN exchange while we resolve a collision (RFC 4271 §6.8). */
  private pending: FsmConnection | undefined;
  /** Connections our OPEN already went out on, so re-entering OpenSent never sends a second one. */
  private openSentOn = new WeakSet<FsmConnection>();
  /** An input to handle again after a transition (the OPEN that revealed a peer's restart). */
  private replay: Input | undefined;
  private localOpen: OpenMessage | undefined;
  private sess: NegotiatedSession | undefined;
  private readonly timers = new Map<TimerName, TimerHandle>();
  private adminUp = false;
  private lastReceivedAt = 0;
  private holdTimeS = OPEN_WAIT_HOLD_TIME_S;
  private idleHoldMs = 0;
  private readonly backoff: IdleHoldBackoff;
  private readonly clock: Clock;
  private readonly log: Logger;
  /** Remembered from the last OPEN so a collision in OpenSent can be resolved at once. */
  private lastPeerBgpId: string | undefined;
  /** Set while leaving a state: what we sent / received, for the 'down' event and status. */
  private lastSent: NotificationInfo | undefined;
  private lastReceived: NotificationInfo | undefined;
  private lastDetail = '';
  private sinceMs: number;
  /** BIRD-style last error text for the status INFO column ("Socket: Connection refused"). */
  lastError = '';

  private readonly handlers: Record<FsmState, (ev: Input) => Transition | null> = {
    [FsmState.Idle]: (ev) => this.idle(ev),
    [FsmState.Connect]: (ev) => this.connect(ev),
    [FsmState.Active]: (ev) => this.active(ev),
    [FsmState.OpenSent]: (ev) => this.openSent(ev),
    [FsmState.OpenConfirm]: (ev) => this.openConfirm(ev),
    [FsmState.Established]: (ev) => this.established(ev),
  };

  constructor(
    private cfg: FsmConfig,
    private readonly deps: FsmDeps,
  ) {
    super();
    this.clock = deps.clock ?? systemClock;
    this.log = (deps.logger ?? silentLogger).child({ peer: cfg.peerAddress });
    this.backoff = new IdleHoldBackoff(cfg.errorWaitMinMs, cfg.errorWaitMaxMs);
    this.sinceMs = this.clock.now();
  }

  get state(): FsmState {
    return this.st;
  }
  /** When the state last changed (ms since epoch). */
  get since(): number {
    return this.sinceMs;
  }
  get session(): NegotiatedSession | undefined {
    return this.st === FsmState.Established ? this.sess : undefined;
  }
  get config(): FsmConfig {
    return this.cfg;
  }
  get connection(): FsmConnection | undefined {
    return this.conn;
  }

  /** Replaces the configuration used by the next OPEN (the caller resets the session if needed). */
  setConfig(cfg: FsmConfig): void {
    this.cfg = cfg;
  }

  start(): void {
    this.input({ kind: 'start' });
  }

  /**
   * Administrative stop. With a notification (default Cease/Administrative Shutdown) the peer
   * flushes our routes; with `silent` the TCP connection just closes, which is what a graceful
   * restart needs (RFC 4724 §4: a NOTIFICATION would end the peer's helper mode).
   */
  stop(opts: { notification?: NotificationInfo; silent?: boolean } = {}): void {
    const notification = opts.silent
      ? undefined
      : (opts.notification ?? { code: NotifCode.Cease, subcode: CeaseSubcode.AdministrativeShutdown, data: new Uint8Array(0) });
    this.input({ kind: 'stop', ...(notification ? { notification } : {}) });
  }

  /** Sends an UPDATE on the Established session; false when the write buffer is full. */
  sendUpdate(msg: UpdateMessage): boolean {
    if (this.st !== FsmState.Established || !this.conn) return false;
    return this.conn.send(msg);
  }

  sendRouteRefresh(msg: RouteRefreshMessage): boolean {
    if (this.st !== FsmState.Established || !this.conn) return false;
    return this.conn.send(msg);
  }

  /** Feeds one input to the current state's function and performs the transition it asks for. */
  input(ev: Input): void {
    if ('conn' in ev && ev.conn !== this.conn && ev.conn !== this.pending) {
      // A connection we already dropped: its late events mean nothing, but an incoming one is new.
      if (ev.kind !== 'tcp-incoming') return;
    }
    if (ev.kind === 'message') this.lastReceivedAt = this.clock.now();
    if (ev.kind === 'stop') {
      this.adminUp = false;
      this.cancelTimer('idle-hold');
      if (ev.notification && this.conn && this.isOpenOrLater()) this.sendNotification(ev.notification);
      this.lastDetail = 'administratively stopped';
      this.lastError = '';
      if (this.st !== FsmState.Idle) this.go({ next: FsmState.Idle, reason: 'admin-stop' });
      return;
    }
    try {
      const t = this.handlers[this.st](ev);
      if (t) this.go(t);
      const again = this.replay;
      this.replay = undefined;
      if (again) this.input(again);
    } catch (e) {
      this.internalError(e);
    }
  }

  /**
   * A bug in a state function or an event listener (the speaker's RIB glue) must cost one session,
   * not the process: log it with its stack, tell the peer (Cease / Out of Resources) and start over.
   */
  private internalError(e: unknown): void {
    this.log.error({ err: e instanceof Error ? e.stack : String(e), state: this.st }, 'internal error while handling a BGP event; resetting the session');
    this.lastError = 'Error: internal error';
    this.lastDetail = `internal error: ${e instanceof Error ? e.message : String(e)}`;
    if (this.conn && this.isOpenOrLater()) this.sendNotification({ code: NotifCode.Cease, subcode: CeaseSubcode.OutOfResources, data: new Uint8Array(0) });
    if (this.st === FsmState.Idle) return;
    try {
      this.go({ next: FsmState.Idle, reason: 'fsm-error' });
    } catch (e2) {
      this.log.error({ err: e2 instanceof Error ? e2.stack : String(e2) }, 'internal error while resetting the session');
      this.st = FsmState.Idle;
    }
  }

  // ------------------------------------------------------------------ state functions

  private idle(ev: Input): Transition | null {
    switch (ev.kind) {
      case 'start':
        this.adminUp = true;
        return { next: this.cfg.passive ? FsmState.Active : FsmState.Connect, reason: 'admin-start' };
      case 'timer':
        if (ev.timer !== 'idle-hold' || !this.adminUp) return null;
        return { next: this.cfg.passive ? FsmState.Active : FsmState.Connect, reason: 'idle-hold-expired' };
      case 'tcp-incoming':
        // Accepting during idle hold lets a restarted peer come back without waiting out our backoff.
        if (!this.adminUp) {
          ev.conn.close();
          return null;
        }
        this.adopt(ev.conn);
        return { next: FsmState.OpenSent, reason: 'tcp-accepted' };
      default:
        return null;
    }
  }

  private connect(ev: Input): Transition | null {
    switch (ev.kind) {
      case 'tcp-connected':
        return { next: FsmState.OpenSent, reason: 'tcp-connected' };
      case 'tcp-failed':
      case 'tcp-closed':
        this.lastError = `Socket: ${'error' in ev && ev.error ? ev.error : 'connection closed'}`;
        this.dropConn();
        return { next: FsmState.Active, reason: 'tcp-connect-failed' };
      case 'timer':
        if (ev.timer !== 'connect-retry') return null;
        this.dropConn();
        return { next: FsmState.Connect, reason: 'connect-retry-expired' };
      case 'tcp-incoming':
        this.dropConn();
        this.adopt(ev.conn);
        return { next: FsmState.OpenSent, reason: 'tcp-accepted' };
      default:
        return null;
    }
  }

  private active(ev: Input): Transition | null {
    switch (ev.kind) {
      case 'timer':
        if (ev.timer !== 'connect-retry' || this.cfg.passive) return null;
        return { next: FsmState.Connect, reason: 'connect-retry-expired' };
      case 'tcp-incoming':
        this.adopt(ev.conn);
        return { next: FsmState.OpenSent, reason: 'tcp-accepted' };
      default:
        return null;
    }
  }

  private openSent(ev: Input): Transition | null {
    switch (ev.kind) {
      case 'message':
        if (ev.conn === this.pending) return this.pendingMessage(ev.msg);
        if (ev.msg.type === MessageType.Open) return this.receiveOpen(ev.msg);
        return this.unexpected(ev.msg, FSM_ERR_OPENSENT);
      case 'decode-error':
        return this.decodeError(ev);
      case 'tcp-closed':
        if (ev.conn === this.pending) return this.dropPending();
        this.lastError = `Socket: ${ev.error ?? 'connection closed'}`;
        this.dropConn();
        if (this.promotePending()) return { next: FsmState.OpenSent, reason: 'collision-lost' };
        // RFC 4271 §8.2.2: OpenSent + TCP failure → Active.
        return { next: FsmState.Active, reason: 'tcp-closed' };
      case 'tcp-incoming':
        return this.collision(ev.conn);
      case 'timer':
        return this.timerInOpenStates(ev.timer);
      default:
        return null;
    }
  }

  private openConfirm(ev: Input): Transition | null {
    switch (ev.kind) {
      case 'message':
        if (ev.conn === this.pending) return this.pendingMessage(ev.msg);
        if (ev.msg.type === MessageType.Keepalive) return { next: FsmState.Established, reason: 'keepalive-received' };
        if (ev.msg.type === MessageType.Notification) return this.notificationReceived(ev.msg);
        return this.unexpected(ev.msg, FSM_ERR_OPENCONFIRM);
      case 'decode-error':
        return this.decodeError(ev);
      case 'tcp-closed':
        if (ev.conn === this.pending) return this.dropPending();
        this.lastError = `Socket: ${ev.error ?? 'connection closed'}`;
        return this.failWith('tcp-closed', 'connection closed by peer during OPEN exchange');
      case 'tcp-incoming':
        return this.collision(ev.conn);
      case 'timer':
        return this.timerInOpenStates(ev.timer);
      default:
        return null;
    }
  }

  private established(ev: Input): Transition | null {
    if ('conn' in ev && ev.conn === this.pending && ev.kind !== 'tcp-incoming') return this.establishedPending(ev);
    switch (ev.kind) {
      case 'message':
        switch (ev.msg.type) {
          case MessageType.Update:
            this.emit('update', ev.msg);
            return null;
          case MessageType.Keepalive:
            return null;
          case MessageType.RouteRefresh:
            this.emit('route-refresh', ev.msg);
            return null;
          case MessageType.Notification:
            return this.notificationReceived(ev.msg);
          default:
            return this.unexpected(ev.msg, FSM_ERR_ESTABLISHED);
        }
      case 'decode-error':
        return this.decodeError(ev);
      case 'tcp-closed':
        this.lastError = `Socket: ${ev.error ?? 'Connection closed'}`;
        return this.failWith('tcp-closed', `connection lost: ${ev.error ?? 'closed by peer'}`);
      case 'tcp-drain':
        this.emit('drain');
        return null;
      case 'tcp-incoming':
        if (this.pending) {
          this.refuse(ev.conn);
          return null;
        }
        // Either a collision (both sides connected at once; RFC 4271 §6.8 keeps the Established
        // one) or the peer restarted while our TCP half still looks alive. Only its OPEN can
        // tell: run the OPEN exchange on it and decide in establishedPending().
        this.pending = ev.conn;
        this.openSentOn.add(ev.conn);
        ev.conn.send(buildOpen(this.cfg));
        return null;
      case 'timer':
        return this.timerInOpenStates(ev.timer);
      default:
        return null;
    }
  }

  /** An input on the second connection that arrived while Established. */
  private establishedPending(ev: Input): Transition | null {
    if (ev.kind === 'tcp-closed') return this.dropPending();
    if (ev.kind === 'decode-error') {
      this.pending!.close(ev.notification);
      this.pending = undefined;
      return null;
    }
    if (ev.kind !== 'message' || ev.msg.type !== MessageType.Open) return null;
    const gr = ev.msg.capabilities.find((c) => c.code === CapabilityCode.GracefulRestart && !('unknown' in c));
    if (this.sess?.peerGracefulRestart && gr && 'restarting' in gr && gr.restarting) {
      // RFC 4724 §4.2: the peer restarted (R bit). The old session ends as if TCP had failed,
      // its routes stay stale, and the new connection carries on with this OPEN.
      this.lastDetail = 'peer restarted (graceful restart)';
      this.dropConn();
      this.promotePending();
      this.replay = ev;
      return { next: FsmState.OpenSent, reason: 'peer-reconnected' };
    }
    this.refuse(this.pending!);
    this.pending = undefined;
    return null;
  }

  // ------------------------------------------------------------------ transitions and entry actions

  private go(t: Transition): void {
    const from = this.st;
    const leavingEstablished = from === FsmState.Established && t.next !== FsmState.Established;
    const downInfo = leavingEstablished ? this.downInfo(t.reason) : undefined;
    if (leavingEstablished) this.sess = undefined;
    this.cancelTimer('hold');
    this.cancelTimer('keepalive');
    this.cancelTimer('connect-retry');
    this.st = t.next;
    if (from !== t.next || t.reason !== 'connect-retry-expired') this.sinceMs = this.clock.now();
    this.log.info({ from, to: t.next, reason: t.reason }, `BGP session ${from} → ${t.next} (${t.reason})`);
    this.emit('state', from, t.next, t.reason);
    if (downInfo) this.emit('down', downInfo);
    this.lastSent = undefined;
    this.lastReceived = undefined;
    switch (t.next) {
      case FsmState.Idle:
        this.enterIdle(t.reason);
        break;
      case FsmState.Connect:
        this.enterConnect();
        break;
      case FsmState.Active:
        if (!this.cfg.passive) this.arm('connect-retry', (this.cfg.connectRetryTime ?? DEFAULT_CONNECT_RETRY_S) * 1000);
        break;
      case FsmState.OpenSent:
        this.enterOpenSent();
        break;
      case FsmState.OpenConfirm:
        this.send({ type: MessageType.Keepalive });
        this.armSessionTimers();
        break;
      case FsmState.Established:
        this.lastError = '';
        this.armSessionTimers();
        this.emit('established', this.sess!);
        break;
    }
  }

  private enterIdle(reason: TransitionReason): void {
    this.dropConn();
    this.dropPending();
    if (!this.adminUp) return;
    const benign: TransitionReason[] = ['admin-stop', 'config-changed', 'peer-reconnected'];
    this.idleHoldMs = benign.includes(reason) ? 0 : this.backoff.onError(this.clock.now());
    this.arm('idle-hold', this.idleHoldMs);
  }

  private enterConnect(): void {
    const deliver = (ev: Input): void => this.input(ev);
    this.conn = this.deps.dial(deliver);
    this.arm('connect-retry', (this.cfg.connectRetryTime ?? DEFAULT_CONNECT_RETRY_S) * 1000);
  }

  private enterOpenSent(): void {
    // A session that reaches OpenSent is healthy enough to shorten the next backoff only via forget time.
    this.localOpen = buildOpen(this.cfg);
    if (this.conn && !this.openSentOn.has(this.conn)) {
      this.openSentOn.add(this.conn);
      this.send(this.localOpen);
    }
    this.holdTimeS = OPEN_WAIT_HOLD_TIME_S;
    this.lastReceivedAt = this.clock.now();
    this.arm('hold', this.holdTimeS * 1000);
  }

  private armSessionTimers(): void {
    const s = this.sess!;
    this.holdTimeS = s.holdTime;
    this.lastReceivedAt = this.clock.now();
    if (s.holdTime > 0) {
      this.arm('hold', s.holdTime * 1000);
      this.arm('keepalive', s.keepaliveTime * 1000);
    }
  }

  // ------------------------------------------------------------------ helpers

  private isOpenOrLater(): boolean {
    return this.st === FsmState.OpenSent || this.st === FsmState.OpenConfirm || this.st === FsmState.Established;
  }

  private receiveOpen(open: OpenMessage): Transition {
    try {
      const peerAs = validateOpen(open, this.cfg);
      this.lastPeerBgpId = open.bgpId;
      this.sess = negotiate(this.localOpen!, open, this.cfg, peerAs);
      this.conn!.setCodecOptions(this.sess.codec);
      if (this.pending) {
        // The peer's identifier is known now: settle the collision before going on.
        const w = collisionWinner(this.cfg.routerId, open.bgpId, this.conn!.outgoing);
        if (w === 'new') {
          this.sendNotification(collisionCease());
          this.dropConn();
          this.promotePending();
          return { next: FsmState.OpenSent, reason: 'collision-lost' };
        }
        this.refuse(this.pending);
        this.pending = undefined;
      }
      return { next: FsmState.OpenConfirm, reason: 'open-received' };
    } catch (e) {
      if (!(e instanceof OpenValidationError)) throw e;
      this.log.warn({ code: e.code }, `rejecting the peer's OPEN: ${e.message}`);
      this.lastError = `Error: ${e.message}`;
      this.sendNotification(e.notification);
      this.lastDetail = e.message;
      return { next: FsmState.Idle, reason: 'open-invalid' };
    }
  }

  /** A message on the colliding connection while the main one is still in its OPEN exchange. */
  private pendingMessage(msg: BgpMessage): Transition | null {
    if (msg.type !== MessageType.Open) {
      if (msg.type !== MessageType.Keepalive) this.dropPending();
      return null;
    }
    const w = collisionWinner(this.cfg.routerId, msg.bgpId, this.conn!.outgoing);
    if (w === 'existing') {
      this.refuse(this.pending!);
      this.pending = undefined;
      return null;
    }
    this.sendNotification(collisionCease());
    this.dropConn();
    this.promotePending();
    // The new connection's OPEN exchange restarts from OpenSent with its OPEN already in hand.
    this.st = FsmState.OpenSent;
    return this.receiveOpen(msg);
  }

  private collision(incoming: FsmConnection): Transition | null {
    if (this.pending) {
      this.refuse(incoming);
      return null;
    }
    const remoteId = this.st === FsmState.OpenConfirm ? this.sess?.peerBgpId : undefined;
    if (remoteId ?? this.lastPeerBgpId) {
      const w = collisionWinner(this.cfg.routerId, (remoteId ?? this.lastPeerBgpId)!, this.conn!.outgoing);
      if (w === 'existing') {
        this.refuse(incoming);
        return null;
      }
      this.sendNotification(collisionCease());
      this.dropConn();
      this.adopt(incoming);
      return { next: FsmState.OpenSent, reason: 'collision-lost' };
    }
    // Identifier unknown: run the OPEN exchange on the new connection too and decide on its OPEN.
    this.pending = incoming;
    this.openSentOn.add(incoming);
    incoming.send(buildOpen(this.cfg));
    return null;
  }

  private promotePending(): boolean {
    if (!this.pending) return false;
    this.conn = this.pending;
    this.pending = undefined;
    return true;
  }

  private dropPending(): null {
    if (this.pending) this.pending.close();
    this.pending = undefined;
    return null;
  }

  private refuse(conn: FsmConnection): void {
    const n = collisionCease();
    this.emit('notification-sent', n);
    conn.close(n);
  }

  private adopt(conn: FsmConnection): void {
    this.conn = conn;
  }

  private dropConn(): void {
    this.conn?.close();
    this.conn = undefined;
  }

  private send(msg: BgpMessage): void {
    this.conn?.send(msg);
  }

  private sendNotification(n: NotificationInfo): void {
    this.lastSent = n;
    this.emit('notification-sent', n);
    this.conn?.close(n);
    this.conn = undefined;
  }

  private notificationReceived(msg: Extract<BgpMessage, { type: MessageType.Notification }>): Transition {
    const n: NotificationInfo = { code: msg.code, subcode: msg.subcode, data: msg.data };
    this.lastReceived = n;
    this.emit('notification-received', n);
    const text = describeNotification(n);
    this.lastError = `Received: ${text}`;
    this.lastDetail = `peer sent NOTIFICATION ${n.code}/${n.subcode} (${text})`;
    this.log.warn({ code: n.code, subcode: n.subcode }, this.lastDetail);
    return { next: FsmState.Idle, reason: 'notification-received' };
  }

  private unexpected(msg: BgpMessage, subcode: number): Transition {
    if (msg.type === MessageType.Notification) return this.notificationReceived(msg);
    this.lastError = `Error: FSM error`;
    this.lastDetail = `unexpected message type ${msg.type} in state ${this.st}`;
    this.sendNotification({ code: NotifCode.FsmError, subcode, data: new Uint8Array(0) });
    return { next: FsmState.Idle, reason: 'fsm-error' };
  }

  private decodeError(ev: Extract<Input, { kind: 'decode-error' }>): Transition | null {
    if (ev.conn === this.pending) {
      this.pending.close(ev.notification);
      this.pending = undefined;
      return null;
    }
    this.log.warn({ code: ev.notification.code, subcode: ev.notification.subcode }, `malformed message from peer: ${ev.message}`);
    this.lastError = `Error: ${describeNotification(ev.notification)}`;
    this.lastDetail = ev.message;
    this.sendNotification(ev.notification);
    return { next: FsmState.Idle, reason: 'message-error' };
  }

  private failWith(reason: TransitionReason, detail: string): Transition {
    this.lastDetail = detail;
    return { next: FsmState.Idle, reason };
  }

  private timerInOpenStates(timer: TimerName): Transition | null {
    if (timer === 'keepalive') {
      this.send({ type: MessageType.Keepalive });
      if (this.sess && this.sess.keepaliveTime > 0) this.arm('keepalive', this.sess.keepaliveTime * 1000);
      return null;
    }
    if (timer !== 'hold') return null;
    // The deadline moves with every message received; re-arm for what is left instead of
    // rescheduling a timer per message (a full table is a million messages).
    const left = this.lastReceivedAt + this.holdTimeS * 1000 - this.clock.now();
    if (left > 0) {
      this.arm('hold', left);
      return null;
    }
    this.lastError = 'Error: Hold timer expired';
    this.lastDetail = `no message from the peer for ${this.holdTimeS}s`;
    this.log.warn(`hold timer expired: ${this.lastDetail}`);
    this.sendNotification({ code: NotifCode.HoldTimerExpired, subcode: 0, data: new Uint8Array(0) });
    return { next: FsmState.Idle, reason: 'hold-timer-expired' };
  }

  private downInfo(reason: TransitionReason): DownInfo {
    const gr = this.sess?.peerGracefulRestart;
    // RFC 4724 §4.2: helper mode applies when the session ends without a NOTIFICATION.
    const grApplies = gr && !this.lastSent && !this.lastReceived && (reason === 'tcp-closed' || reason === 'peer-reconnected');
    return {
      reason,
      ...(this.lastSent ? { sent: this.lastSent } : {}),
      ...(this.lastReceived ? { received: this.lastReceived } : {}),
      detail: this.lastDetail || reason,
      ...(grApplies ? { gracefulRestart: { restartTime: gr.restartTime, families: gr.families } } : {}),
    };
  }

  private arm(name: TimerName, ms: number): void {
    this.cancelTimer(name);
    this.timers.set(
      name,
      this.clock.after(ms, () => {
        this.timers.delete(name);
        this.input({ kind: 'timer', timer: name });
      }),
    );
  }

  private cancelTimer(name: TimerName): void {
    this.timers.get(name)?.cancel();
    this.timers.delete(name);
  }
}

function collisionCease(): NotificationInfo {
  return { code: NotifCode.Cease, subcode: CeaseSubcode.ConnectionCollisionResolution, data: new Uint8Array(0) };
}

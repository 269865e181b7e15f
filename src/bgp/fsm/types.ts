/**
 * The FSM's vocabulary: RFC 4271 §8.2.2 states, the closed set of reasons a transition happens for,
 * the inputs the FSM consumes and the events it emits. Kept apart from the state functions so the
 * speaker, metrics and status output can name states and reasons without importing the machine.
 */
import type { CodecOptions, AfiSafiKey, UpdateMessage, RouteRefreshMessage, BgpMessage } from '../wire/types.js';

export const enum FsmState {
  Idle = 'Idle',
  Connect = 'Connect',
  Active = 'Active',
  OpenSent = 'OpenSent',
  OpenConfirm = 'OpenConfirm',
  Established = 'Established',
}

/** Why the FSM moved. A closed union so metrics labels and logs stay enumerable. */
export type TransitionReason =
  | 'admin-start'
  | 'admin-stop'
  | 'config-changed'
  | 'idle-hold-expired'
  | 'connect-retry-expired'
  | 'tcp-connected'
  | 'tcp-connect-failed'
  | 'tcp-accepted'
  | 'tcp-closed'
  | 'open-received'
  | 'open-invalid'
  | 'keepalive-received'
  | 'hold-timer-expired'
  | 'notification-received'
  | 'message-error'
  | 'fsm-error'
  | 'collision-lost'
  | 'peer-reconnected';

export interface Transition {
  next: FsmState;
  reason: TransitionReason;
}

/** A NOTIFICATION we send or received, reduced to what logs, metrics and status need. */
export interface NotificationInfo {
  code: number;
  subcode: number;
  data: Uint8Array;
}

/** What the peer's OPEN and ours agreed on. Fixed for the life of one Established session. */
export interface NegotiatedSession {
  peerBgpId: string;
  /** The peer's real AS (from the 4-octet capability when present). */
  peerAs: number;
  ibgp: boolean;
  /** Seconds; 0 means no hold timer and no keepalives (RFC 4271 §4.2). */
  holdTime: number;
  keepaliveTime: number;
  /** Families both sides announced with the multiprotocol capability (IPv4 unicast when neither did). */
  families: ReadonlySet<AfiSafiKey>;
  routeRefresh: boolean;
  codec: CodecOptions;
  /** Present when the peer sent the graceful restart capability (RFC 4724). */
  peerGracefulRestart?: {
    restarting: boolean;
    restartTime: number;
    /** Families the peer preserves state for, with the F bit. */
    families: ReadonlyMap<AfiSafiKey, boolean>;
  };
  /** We sent the GR capability, so End-of-RIB marks the end of our initial advertisement. */
  localGracefulRestart: boolean;
}

/** Inputs to the FSM. Connection-scoped inputs carry the connection they came from. */
export type FsmInput<C = unknown> =
  | { kind: 'start' }
  | { kind: 'stop'; notification?: NotificationInfo }
  | { kind: 'timer'; timer: 'connect-retry' | 'idle-hold' | 'hold' | 'keepalive' }
  | { kind: 'tcp-connected'; conn: C }
  | { kind: 'tcp-failed'; conn: C; error: string }
  | { kind: 'tcp-incoming'; conn: C }
  | { kind: 'tcp-closed'; conn: C; error?: string }
  | { kind: 'tcp-drain'; conn: C }
  | { kind: 'message'; conn: C; msg: BgpMessage }
  | { kind: 'decode-error'; conn: C; notification: NotificationInfo; message: string };

/** Why a session went down, for the speaker (GR decisions), metrics and status. */
export interface DownInfo {
  reason: TransitionReason;
  /** The NOTIFICATION we sent, if any. */
  sent?: NotificationInfo;
  /** The NOTIFICATION the peer sent, if any. */
  received?: NotificationInfo;
  /** Human text for logs and the status INFO column. */
  detail: string;
  /**
   * RFC 4724 §4.2: the peer had negotiated graceful restart and the session ended without a
   * NOTIFICATION (TCP loss, hold timer): keep its routes stale for `restartTime` seconds.
   */
  gracefulRestart?: { restartTime: number; families: ReadonlyMap<AfiSafiKey, boolean> };
}

export interface FsmEvents {
  state: [from: FsmState, to: FsmState, reason: TransitionReason];
  established: [session: NegotiatedSession];
  down: [info: DownInfo];
  update: [msg: UpdateMessage];
  'route-refresh': [msg: RouteRefreshMessage];
  'notification-sent': [n: NotificationInfo];
  'notification-received': [n: NotificationInfo];
  /** Writing to the socket may continue after sendUpdate() returned false. */
  drain: [];
}

/**
 * One TCP connection as the FSM sees it. The real one (connection.ts) frames, decodes and yields;
 * unit tests use an in-memory one. Inputs from the connection reach the FSM through the `deliver`
 * callback it was created with, tagged with the connection so stale ones can be ignored.
 */
export interface FsmConnection {
  /** True when we initiated the connection (needed for collision resolution). */
  readonly outgoing: boolean;
  readonly remoteAddress: string;
  readonly localAddress: string;
  /** Queues a message; false when the socket's write buffer is full (wait for 'tcp-drain'). */
  send(msg: BgpMessage): boolean;
  /** Switches encoding/decoding to the negotiated capabilities. */
  setCodecOptions(opts: CodecOptions): void;
  /** Sends `notification` (if given), flushes, and closes. Idempotent. No inputs follow. */
  close(notification?: NotificationInfo): void;
}

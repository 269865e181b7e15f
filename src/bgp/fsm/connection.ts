/**
 * One BGP TCP connection over `node:net`: frames and decodes what arrives, encodes what is sent,
 * and hands every result to the FSM through `deliver`. The read loop processes at most
 * MESSAGES_PER_TICK messages before yielding to the event loop (socket paused meanwhile), so a
 * peer sending a full table cannot starve our keepalives and other sessions. Writes report a full
 * buffer to the caller and a later 'tcp-drain', which is how the speaker applies backpressure.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  Framer,
  decode,
  isBgpDecodeError,
  encodeOpen,
  encodeKeepalive,
  encodeNotification,
  encodeRouteRefresh,
  encodeUpdate,
  DEFAULT_CODEC_OPTIONS,
  MessageType,
  type BgpMessage,
  type CodecOptions,
} from '../wire/index.js';
import type { FsmConnection, FsmInput, NotificationInfo } from './types.js';
import { requireTcpMd5, GTSM_TTL, gtsmMinTtl } from './md5.js';

/** One message to bytes with the session's negotiated options. */
export function encodeMessage(msg: BgpMessage, opts: CodecOptions): Uint8Array {
  switch (msg.type) {
    case MessageType.Open:
      return encodeOpen(msg);
    case MessageType.Keepalive:
      return encodeKeepalive();
    case MessageType.Notification:
      return encodeNotification(msg, opts);
    case MessageType.RouteRefresh:
      return encodeRouteRefresh(msg);
    case MessageType.Update:
      return encodeUpdate(msg, opts);
  }
}

/**
 * Work done per event-loop turn before yielding: at most this many messages and this much time.
 * A message count alone is not enough: a 4096-byte UPDATE can carry 800 /32s, and 512 of those
 * held the loop for 1.4 s in bench/bgp-session-latency.ts; with the time budget the worst
 * event-loop delay during a 1M-prefix load is a few tens of ms.
 */
export const MESSAGES_PER_TICK = 512;
export const TICK_BUDGET_MS = 5;
/** How long a closing connection may take to flush its NOTIFICATION before it is destroyed. */
const CLOSE_FLUSH_MS = 2_000;

type Deliver = (ev: FsmInput<FsmConnection>) => void;

/** BIRD-like text for socket errors, shown in status ("Socket: Connection refused"). */
function socketErrorText(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'Connection refused';
    case 'ECONNRESET':
      return 'Connection reset by peer';
    case 'ETIMEDOUT':
      return 'Connection timed out';
    case 'EHOSTUNREACH':
      return 'No route to host';
    case 'ENETUNREACH':
      return 'Network is unreachable';
    case 'EADDRNOTAVAIL':
      return 'Cannot assign requested address (check the local source address)';
    default:
      return e.message;
  }
}

export interface DialOptions {
  host: string;
  port: number;
  localAddress?: string;
  /** TCP MD5 key (RFC 2385): the connect then goes through the native addon. */
  password?: string;
  /** Give up connecting after this long (the FSM's connect-retry time). */
  timeoutMs?: number;
  /** GTSM (RFC 5082): peer at most this many hops away; we send with TTL 255. */
  ttlSecurityHops?: number;
}

/** Bound on a signed connect when the caller gives none (Calico: connect retry time 5 s). */
const DEFAULT_SIGNED_CONNECT_TIMEOUT_MS = 5_000;

export class TcpConnection implements FsmConnection {
  private opts: CodecOptions = DEFAULT_CODEC_OPTIONS;
  private readonly framer = new Framer();
  private backlog: Uint8Array[] = [];
  private backlogPos = 0;
  private draining = false;
  private closed = false;
  private lastError: string | undefined;
  private connected: boolean;
  /** A header error found while framing, reported once the messages before it are delivered. */
  private framingError: unknown;
  /** The framer is poisoned after a header error: later bytes are ignored. */
  private framingFailed = false;

  /** Undefined only while an MD5-signed connect is in progress in the addon. */
  private sock: net.Socket | undefined;

  constructor(
    socket: net.Socket | undefined,
    readonly outgoing: boolean,
    private readonly deliver: Deliver,
    connected = true,
  ) {
    this.connected = connected;
    if (socket) this.attach(socket);
  }

  get socket(): net.Socket {
    if (!this.sock) throw new Error('connection has no socket yet');
    return this.sock;
  }

  private attach(socket: net.Socket): void {
    this.sock = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      if (!this.closed) this.deliver({ kind: 'tcp-drain', conn: this });
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      this.lastError = socketErrorText(e);
      if (!this.connected && !this.closed) {
        this.closed = true;
        this.deliver({ kind: 'tcp-failed', conn: this, error: this.lastError });
      }
    });
    socket.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      this.deliver({ kind: 'tcp-closed', conn: this, ...(this.lastError ? { error: this.lastError } : {}) });
    });
  }

  /** Starts an outgoing connection; the FSM learns the outcome through `deliver`. */
  static dial(o: DialOptions, deliver: Deliver): TcpConnection {
    if (o.password || o.ttlSecurityHops) return TcpConnection.dialSigned(o, deliver);
    const socket = new net.Socket();
    const conn = new TcpConnection(socket, true, deliver, false);
    socket.once('connect', () => {
      conn.connected = true;
      if (!conn.closed) deliver({ kind: 'tcp-connected', conn });
    });
    socket.connect({ host: o.host, port: o.port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
    return conn;
  }

  /**
   * Outgoing connection with a TCP MD5 key and/or GTSM: the addon creates the socket, sets the
   * key and TTLs, binds and connects on the thread pool, and hands back a connected fd that
   * node:net adopts.
   */
  private static dialSigned(o: DialOptions, deliver: Deliver): TcpConnection {
    const conn = new TcpConnection(undefined, true, deliver, false);
    const addon = requireTcpMd5(o.host, o.password ? undefined : 'ttlSecurity (GTSM)');
    const hops = o.ttlSecurityHops ?? 0;
    addon
      .connect(o.host, o.port, o.localAddress ?? '', o.password ?? '', hops ? GTSM_TTL : 0, o.timeoutMs ?? DEFAULT_SIGNED_CONNECT_TIMEOUT_MS, hops ? gtsmMinTtl(hops) : 0)
      .then((fd) => {
        const socket = new net.Socket({ fd, readable: true, writable: true });
        if (conn.closed) {
          socket.destroy();
          return;
        }
        conn.connected = true;
        conn.attach(socket);
        deliver({ kind: 'tcp-connected', conn });
      })
      .catch((e: NodeJS.ErrnoException & { errno?: number }) => {
        if (conn.closed) return;
        conn.closed = true;
        const text = /ECONNREFUSED|Connection refused/.test(e.message) ? 'Connection refused' : e.message;
        deliver({ kind: 'tcp-failed', conn, error: text });
      });
    return conn;
  }

  get remoteAddress(): string {
    return (this.sock?.remoteAddress ?? '').replace(/^::ffff:/, '');
  }
  get localAddress(): string {
    return (this.sock?.localAddress ?? '').replace(/^::ffff:/, '');
  }
  /** Bytes queued in the socket's write buffer. */
  get writeBuffered(): number {
    return this.sock?.writableLength ?? 0;
  }

  setCodecOptions(opts: CodecOptions): void {
    this.opts = opts;
    this.framer.setExtendedMessages(opts.extendedMessages);
  }

  send(msg: BgpMessage): boolean {
    if (this.closed || !this.sock || this.sock.destroyed) return false;
    return this.sock.write(encodeMessage(msg, this.opts));
  }

  /** Writes already-encoded messages (UPDATE batches from the encoder). */
  sendBytes(bytes: Uint8Array): boolean {
    if (this.closed || !this.sock || this.sock.destroyed) return false;
    return this.sock.write(bytes);
  }

  close(notification?: NotificationInfo): void {
    if (this.closed) return;
    this.closed = true;
    this.backlog = [];
    const s = this.sock;
    if (!s) return;
    if (notification && this.connected && !s.destroyed) {
      s.end(encodeMessage({ type: MessageType.Notification, ...notification }, this.opts));
      const t = setTimeout(() => s.destroy(), CLOSE_FLUSH_MS);
      t.unref();
      s.once('close', () => clearTimeout(t));
    } else {
      s.destroy();
    }
  }

  private onData(chunk: Buffer): void {
    if (this.closed || this.framingFailed || this.framingError !== undefined) return;
    const frames: Uint8Array[] = [];
    try {
      // feed, not push: the messages before a bad header are still delivered, so a NOTIFICATION
      // followed by garbage in one chunk reaches the FSM (and the operator sees the peer's reason).
      this.framer.feed(chunk, (m) => frames.push(m));
    } catch (e) {
      if (!isBgpDecodeError(e)) throw e;
      this.framingError = e;
    }
    if (frames.length > 0) {
      if (this.backlogPos < this.backlog.length) {
        this.backlog.push(...frames);
      } else {
        this.backlog = frames;
        this.backlogPos = 0;
      }
    }
    this.pump();
  }

  /** Decodes and delivers messages within the per-turn budget, then yields if more are waiting. */
  private pump(): void {
    if (this.draining) return;
    let n = 0;
    const start = performance.now();
    while (this.backlogPos < this.backlog.length && !this.closed) {
      if (n++ === MESSAGES_PER_TICK || performance.now() - start > TICK_BUDGET_MS) {
        this.draining = true;
        this.socket.pause();
        setImmediate(() => {
          this.draining = false;
          if (this.closed) return;
          this.pump();
          if (!this.draining) this.socket.resume();
        });
        return;
      }
      const frame = this.backlog[this.backlogPos++]!;
      let msg: BgpMessage;
      try {
        msg = decode(frame, this.opts);
      } catch (e) {
        this.fail(e);
        return;
      }
      this.deliver({ kind: 'message', conn: this, msg });
    }
    this.backlog = [];
    this.backlogPos = 0;
    // A header error is reported only after every message framed before it was delivered.
    if (this.framingError !== undefined && !this.closed) {
      const e = this.framingError;
      this.framingError = undefined;
      this.framingFailed = true;
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    if (!isBgpDecodeError(e)) throw e;
    this.backlog = [];
    this.deliver({
      kind: 'decode-error',
      conn: this,
      notification: { code: e.notifCode, subcode: e.notifSubcode, data: e.data },
      message: `${e.code}: ${e.message}`,
    });
  }
}

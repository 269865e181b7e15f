/**
 * The agent's local control socket: how `tortie status` (and later commands) ask a running agent
 * or standalone BGP speaker for its state without opening a network port.
 *
 * Why a UNIX socket and not HTTP on the health port: the health port answers anyone who can reach
 * it, while status output names peers, addresses and configuration. A socket file with mode 0600
 * limits callers to root (the agent's user), the same trust model as `birdc` and BIRD's control
 * socket.
 *
 * Protocol: newline-delimited JSON, one object per line, several requests per connection allowed.
 *   request:  {"id":1,"method":"bgp.peers","params":{...}}
 *   response: {"id":1,"result":...}  or  {"id":1,"error":{"code":"E_...","message":"..."}}
 * Responses carry the request id because handlers are async and may finish out of order.
 * A request that cannot be parsed is answered with `"id":null` and the connection stays open; a
 * request longer than MAX_REQUEST_BYTES is answered with an error and the connection is closed,
 * because the framing can no longer be trusted.
 */
import net from 'node:net';
import { chmodSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../util/log.js';
import { UserError, errorMessage, isUserError } from '../util/errors.js';

/** Where the agent listens unless TORTIE_CONTROL_SOCKET says otherwise (Calico keeps its sockets under /var/run/calico). */
export const DEFAULT_CONTROL_SOCKET_PATH = '/var/run/tortie/control.sock';

/**
 * Longest request line accepted. Requests are a method name and small parameters; 1 MiB is far
 * above anything legitimate and small enough that a misbehaving client cannot grow the agent's heap.
 */
export const MAX_REQUEST_BYTES = 1024 * 1024;

/**
 * Longest response line a client accepts. Responses can be large (a full RIB dump at tens of
 * thousands of routes is a few MiB); 64 MiB bounds a runaway without getting in the way.
 */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** How long controlCall waits for an answer by default. Status queries read in-memory state, so seconds is generous. */
export const DEFAULT_CALL_TIMEOUT_MS = 5000;

/**
 * A connection with no traffic for this long is closed. Callers send a request and read the answer
 * within seconds; this only reaps clients that hung or forgot to close, without limiting a
 * long-lived caller that keeps asking (a `--watch` style status).
 */
export const IDLE_TIMEOUT_MS = 5 * 60_000;

/** Concurrent connections accepted; a handful of operators and tools, never hundreds. */
export const MAX_CONNECTIONS = 64;

/** How long a connection that sent an oversize request may linger to read its error before it is torn down. */
const OVERSIZE_LINGER_MS = 1000;

/** How long listen() waits when probing whether an existing socket file has a live listener. */
const PROBE_TIMEOUT_MS = 1000;

export type ControlId = number | string | null;

export interface ControlRequest {
  id: ControlId;
  method: string;
  params?: unknown;
}

/** Stable error codes on the wire. Handler-thrown UserErrors pass their own `code` through. */
export type ControlErrorCode =
  | 'E_PARSE' // the line is not JSON
  | 'E_INVALID_REQUEST' // JSON, but not {id, method, params?}
  | 'E_TOO_LARGE' // request exceeded MAX_REQUEST_BYTES
  | 'E_NO_METHOD' // no handler registered under that name
  | 'E_INTERNAL' // the handler failed unexpectedly (a bug; logged with its stack)
  | (string & {});

export interface ControlErrorBody {
  code: ControlErrorCode;
  message: string;
}

export type ControlResponse = { id: ControlId; result: unknown } | { id: ControlId; error: ControlErrorBody };

export type ControlHandler = (params: unknown) => unknown | Promise<unknown>;

/** Error answered by the agent for a call (unknown method, bad params, handler failure). */
export class ControlRemoteError extends UserError {
  readonly method: string;
  constructor(method: string, body: ControlErrorBody) {
    super(`${method}: ${body.message}`, { code: body.code, exitCode: 1 });
    this.name = 'ControlRemoteError';
    this.method = method;
  }
}

export class ControlServer {
  private readonly path: string;
  private readonly log: Logger;
  private readonly handlers = new Map<string, ControlHandler>();
  private readonly sockets = new Set<net.Socket>();
  private server: net.Server | undefined;
  /** Inode of the socket file we created, so close() never unlinks a file some other process put there. */
  private socketIno: number | undefined;

  constructor(opts: { path: string; logger: Logger }) {
    this.path = opts.path;
    this.log = opts.logger.child({ component: 'control' });
    this.handlers.set('methods', () => [...this.handlers.keys()].sort());
  }

  /** Registers a method. Registering the same name twice is a programming error. */
  handle(method: string, fn: ControlHandler): void {
    if (this.handlers.has(method)) throw new Error(`control method ${method} is already registered`);
    this.handlers.set(method, fn);
  }

  async listen(): Promise<void> {
    if (this.server) throw new Error('control server is already listening');
    await this.clearStaleSocket();
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
    } catch (e) {
      throw new UserError(`cannot create the directory for control socket ${this.path}: ${errorMessage(e)}`);
    }
    const server = net.createServer((sock) => this.onConnection(sock));
    server.maxConnections = MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        reject(
          e.code === 'EADDRINUSE' || e.code === 'EACCES'
            ? new UserError(`cannot listen on control socket ${this.path}: ${e.message}`)
            : e,
        );
      };
      server.once('error', onError);
      // bind() runs synchronously inside listen(), so a umask set around the call is what the
      // socket file is created with: no window in which it is readable by others. chmod below
      // makes sure even if that ever changes.
      const oldMask = process.umask(0o177);
      try {
        server.listen(this.path, () => {
          server.off('error', onError);
          resolve();
        });
      } finally {
        process.umask(oldMask);
      }
    });
    chmodSync(this.path, 0o600);
    this.socketIno = statSync(this.path).ino;
    server.on('error', (e) => this.log.error({ err: e }, 'control socket error'));
    this.server = server;
    this.log.info({ path: this.path }, 'control socket listening');
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
    try {
      if (this.socketIno !== undefined && statSync(this.path).ino === this.socketIno) unlinkSync(this.path);
    } catch {
      // Already gone: nothing to clean up.
    }
    this.log.info({ path: this.path }, 'control socket closed');
  }

  /**
   * A socket file left by a crashed agent makes bind() fail with EADDRINUSE. Remove it, but only
   * after checking that nobody answers on it: two agents on one node would fight over the kernel.
   */
  private async clearStaleSocket(): Promise<void> {
    let isSocket: boolean;
    try {
      isSocket = statSync(this.path).isSocket();
    } catch {
      return; // absent
    }
    if (!isSocket) {
      throw new UserError(`control socket path ${this.path} exists and is not a socket; remove it or set TORTIE_CONTROL_SOCKET`);
    }
    const live = await new Promise<boolean>((resolve) => {
      const c = net.connect(this.path);
      const timer = setTimeout(() => {
        c.destroy();
        // Accepting but silent still means a live listener.
        resolve(true);
      }, PROBE_TIMEOUT_MS);
      c.once('connect', () => {
        clearTimeout(timer);
        c.destroy();
        resolve(true);
      });
      c.once('error', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (live) {
      throw new UserError(
        `another process is already listening on control socket ${this.path}; is another tortie agent running on this node?`,
      );
    }
    this.log.info({ path: this.path }, 'removing stale control socket left by an earlier run');
    unlinkSync(this.path);
  }

  private onConnection(sock: net.Socket): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', (e) => this.log.debug({ err: e }, 'control connection error'));
    sock.setTimeout(IDLE_TIMEOUT_MS, () => sock.destroy());
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    sock.on('data', (chunk: Buffer) => {
      let start = 0;
      for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
        const piece = chunk.subarray(start, nl);
        start = nl + 1;
        if (pendingBytes + piece.length > MAX_REQUEST_BYTES) {
          this.rejectOversize(sock);
          return;
        }
        const line = pending.length === 0 ? piece : Buffer.concat([...pending, piece]);
        pending = [];
        pendingBytes = 0;
        void this.dispatch(sock, line.toString('utf8'));
      }
      const rest = chunk.subarray(start);
      if (rest.length > 0) {
        if (pendingBytes + rest.length > MAX_REQUEST_BYTES) {
          this.rejectOversize(sock);
          return;
        }
        pending.push(rest);
        pendingBytes += rest.length;
      }
    });
  }

  private rejectOversize(sock: net.Socket): void {
    this.log.warn({ limit: MAX_REQUEST_BYTES }, 'control request too large; closing the connection');
    // Stop buffering, answer, and half-close. The rest of what the client sends is read and
    // dropped so its write does not stall before it can read the answer; the connection is torn
    // down shortly after in case the client never closes its side.
    sock.removeAllListeners('data');
    sock.on('data', () => undefined);
    this.send(sock, {
      id: null,
      error: { code: 'E_TOO_LARGE', message: `request larger than ${MAX_REQUEST_BYTES} bytes` },
    });
    sock.end();
    setTimeout(() => sock.destroy(), OVERSIZE_LINGER_MS).unref();
  }

  private async dispatch(sock: net.Socket, line: string): Promise<void> {
    if (line.trim() === '') return;
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch (e) {
      this.send(sock, { id: null, error: { code: 'E_PARSE', message: `request is not valid JSON: ${errorMessage(e)}` } });
      return;
    }
    const parsed = parseRequest(req);
    if ('error' in parsed) {
      this.send(sock, parsed);
      return;
    }
    const { id, method, params } = parsed;
    const fn = this.handlers.get(method);
    if (!fn) {
      this.send(sock, {
        id,
        error: { code: 'E_NO_METHOD', message: `unknown method ${method}; known: ${[...this.handlers.keys()].sort().join(', ')}` },
      });
      return;
    }
    try {
      const result = await fn(params);
      this.send(sock, { id, result: result === undefined ? null : result });
    } catch (e) {
      if (isUserError(e)) {
        this.send(sock, { id, error: { code: e.code, message: e.message } });
      } else {
        this.log.error({ err: e, method }, 'control method failed');
        this.send(sock, { id, error: { code: 'E_INTERNAL', message: errorMessage(e) } });
      }
    }
  }

  private send(sock: net.Socket, resp: ControlResponse): void {
    if (sock.destroyed || !sock.writable) return;
    let line: string;
    try {
      line = JSON.stringify(resp);
    } catch (e) {
      // A handler returned something JSON cannot carry (a cycle, a BigInt): a bug, reported as one.
      this.log.error({ err: e }, 'control response not serialisable');
      line = JSON.stringify({ id: resp.id, error: { code: 'E_INTERNAL', message: `response not serialisable: ${errorMessage(e)}` } });
    }
    sock.write(line + '\n');
  }
}

function parseRequest(req: unknown): ControlRequest | { id: ControlId; error: ControlErrorBody } {
  if (typeof req !== 'object' || req === null || Array.isArray(req)) {
    return { id: null, error: { code: 'E_INVALID_REQUEST', message: 'request must be a JSON object {"id","method","params"}' } };
  }
  const r = req as Record<string, unknown>;
  const id = r.id;
  if (id !== undefined && id !== null && typeof id !== 'number' && typeof id !== 'string') {
    return { id: null, error: { code: 'E_INVALID_REQUEST', message: 'request id must be a number, a string or null' } };
  }
  const safeId: ControlId = id ?? null;
  if (typeof r.method !== 'string' || r.method === '') {
    return { id: safeId, error: { code: 'E_INVALID_REQUEST', message: 'request method must be a non-empty string' } };
  }
  return { id: safeId, method: r.method, params: r.params };
}

/**
 * Calls one method on the agent listening at `path` and returns its result.
 * Throws UserError when the agent cannot be reached or answers with an error, so the CLI prints
 * a one-line message instead of a stack.
 */
export function controlCall<T = unknown>(
  path: string,
  method: string,
  params?: unknown,
  timeoutMs: number = DEFAULT_CALL_TIMEOUT_MS,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const id = 1;
    let settled = false;
    let chunks: Buffer[] = [];
    let bytes = 0;
    const sock = net.connect(path);
    const finish = (err: Error | undefined, value?: T): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value as T);
    };
    const timer = setTimeout(() => {
      finish(new UserError(`no answer to ${method} from the agent on socket ${path} within ${timeoutMs} ms; is it stuck?`, { exitCode: 1 }));
    }, timeoutMs);

    sock.once('connect', () => {
      const req: ControlRequest = { id, method, ...(params === undefined ? {} : { params }) };
      sock.write(JSON.stringify(req) + '\n');
    });
    sock.on('error', (e: NodeJS.ErrnoException) => finish(connectError(path, e)));
    sock.on('data', (chunk: Buffer) => {
      const nl = chunk.indexOf(0x0a);
      const piece = nl === -1 ? chunk : chunk.subarray(0, nl);
      bytes += piece.length;
      if (bytes > MAX_RESPONSE_BYTES) {
        finish(new UserError(`answer to ${method} from socket ${path} is larger than ${MAX_RESPONSE_BYTES} bytes`, { exitCode: 1 }));
        return;
      }
      chunks.push(piece);
      if (nl === -1) return;
      const line = Buffer.concat(chunks).toString('utf8');
      chunks = [];
      let resp: unknown;
      try {
        resp = JSON.parse(line);
      } catch (e) {
        finish(new UserError(`the process on socket ${path} sent an answer that is not JSON: ${errorMessage(e)}`, { exitCode: 1 }));
        return;
      }
      const r = resp as Partial<{ id: ControlId; result: unknown; error: ControlErrorBody }>;
      if (typeof r !== 'object' || r === null) {
        finish(new UserError(`the process on socket ${path} sent a malformed answer`, { exitCode: 1 }));
      } else if (r.error && typeof r.error === 'object') {
        finish(new ControlRemoteError(method, { code: String(r.error.code), message: String(r.error.message) }));
      } else if (r.id !== id) {
        finish(new UserError(`the process on socket ${path} answered a different request (id ${String(r.id)})`, { exitCode: 1 }));
      } else {
        finish(undefined, r.result as T);
      }
    });
    sock.on('end', () => finish(new UserError(`the agent on socket ${path} closed the connection without answering ${method}`, { exitCode: 1 })));
  });
}

function connectError(path: string, e: NodeJS.ErrnoException): UserError {
  switch (e.code) {
    case 'ENOENT':
      return new UserError(`cannot reach the tortie agent: socket ${path} does not exist; is the agent running?`, { exitCode: 1 });
    case 'ECONNREFUSED':
      return new UserError(`cannot reach the tortie agent: nothing listens on socket ${path}; is the agent running?`, { exitCode: 1 });
    case 'EACCES':
    case 'EPERM':
      return new UserError(`permission denied on socket ${path}; run as root (the socket is mode 0600)`, { exitCode: 1 });
    default:
      return new UserError(`cannot reach the tortie agent on socket ${path}: ${e.message}`, { exitCode: 1 });
  }
}

/**
 * HTTP plumbing to the Kubernetes API server: one request, one paged list, one watch stream.
 *
 * Authentication, TLS material and the server address come from a KubeAuth (kubeconfig.ts:
 * @kubernetes/client-node's KubeConfig.applyToHTTPSOptions), re-applied for every request so
 * rotating tokens keep working. The requests themselves are made here with node:http/https rather
 * than through the library's Watch/ListWatch/informer, because the datastore needs control the
 * library does not give: a silence bound on a stream, every byte resetting it (bookmarks
 * included), ERROR events and HTTP 410 told apart from transport errors, and no hidden retry loop
 * that stops reconnecting after a non-410 error (client-node's ListWatch) or stalls after a failed
 * list (its informer).
 */
import http from 'node:http';
import https from 'node:https';
import { anonymousAuth, type KubeAuth } from './kubeconfig.js';

/** A Kubernetes API error: the HTTP status (or a Status in an ERROR watch event) and its reason. */
export class K8sApiError extends Error {
  readonly code: string;
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'K8sApiError';
    this.code = `E_K8S_${status}`;
  }

  /** 410 Gone / Expired: the resourceVersion or continue token is no longer available. */
  get isGone(): boolean {
    return this.status === 410 || this.reason === 'Expired' || this.reason === 'Gone';
  }
}

/** A watch event as it comes off the wire. */
export type WatchEvent = { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'; object: Record<string, unknown> };

export type ListPage = { items: Array<Record<string, unknown>>; resourceVersion: string; continueToken?: string };

/** How a watch stream ended. `clean` = the server ended the response normally (timeoutSeconds). */
export type StreamEnd = { type: 'clean' } | { type: 'error'; error: Error };

export interface WatchStreamHandlers {
  onOpen(): void;
  onEvent(ev: WatchEvent): void;
  onEnd(end: StreamEnd): void;
}

export interface StreamHandle {
  abort(): void;
}

/**
 * Silence bound default: a watch that sends nothing (not even a bookmark) for this long is dead.
 * Must exceed the server's bookmark interval (about a minute in kube-apiserver) and is normally
 * set from the watch's timeoutSeconds by the caller.
 */
export const DEFAULT_STREAM_SILENCE_MS = 90_000;
/** Bound on a plain request (list page, get): a list of 500 pods is well under a second normally. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** TCP keepalive probes after this idle time, so a vanished peer is noticed by the kernel too. */
const TCP_KEEPALIVE_MS = 30_000;

/** Tries to turn a response body into a K8sApiError with the server's own message. */
function apiError(status: number, body: string, what: string): K8sApiError {
  try {
    const s = JSON.parse(body) as { reason?: string; message?: string; code?: number };
    if (s && typeof s === 'object' && (s.message || s.reason)) {
      return new K8sApiError(s.code ?? status, s.reason ?? http.STATUS_CODES[status] ?? 'Unknown', `${what}: ${s.message ?? s.reason} (HTTP ${status})`);
    }
  } catch {
    // not a Status object
  }
  return new K8sApiError(status, http.STATUS_CODES[status] ?? 'Unknown', `${what}: HTTP ${status} ${body.slice(0, 200)}`);
}

/** The Status carried by a watch ERROR event as an error. */
export function watchErrorToApiError(obj: Record<string, unknown>, what: string): K8sApiError {
  const code = typeof obj.code === 'number' ? obj.code : 500;
  const reason = typeof obj.reason === 'string' ? obj.reason : 'Unknown';
  const message = typeof obj.message === 'string' ? obj.message : JSON.stringify(obj);
  return new K8sApiError(code, reason, `${what}: ${message}`);
}

export class KubeClient {
  readonly server: string;

  private readonly requestTimeoutMs: number;

  constructor(
    private readonly auth: KubeAuth,
    opts: { requestTimeoutMs?: number } = {},
  ) {
    this.server = auth.server.replace(/\/+$/, '');
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /** A client for a server with no authentication (the test API server, a local proxy). */
  static forServer(server: string, opts: { requestTimeoutMs?: number } = {}): KubeClient {
    return new KubeClient(anonymousAuth(server), opts);
  }

  /**
   * Keep-alive agents for short requests (list pages, gets), so a paged list does not pay a TCP
   * and TLS handshake per page. Watches get their own connection each (agent: false): they are
   * long-lived, and HTTP/1.1 cannot multiplex them anyway.
   */
  private readonly agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private async open(
    method: string,
    path: string,
    query: Record<string, string | undefined>,
    body: string | undefined,
    contentType: string | undefined,
    streaming = false,
  ): Promise<http.ClientRequest> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
    const opts: https.RequestOptions = {};
    await this.auth.apply(opts);
    const headers: Record<string, string> = { Accept: 'application/json', ...((opts.headers as Record<string, string>) ?? {}) };
    if (contentType) headers['Content-Type'] = contentType;
    if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
    const tls = url.protocol === 'https:';
    const agent = streaming ? false : tls ? this.agents.https : this.agents.http;
    const req = (tls ? https : http).request(url, { ...opts, method, headers, agent });
    req.on('socket', (s) => s.setKeepAlive(true, TCP_KEEPALIVE_MS));
    if (body !== undefined) req.write(body);
    req.end();
    return req;
  }

  /** One request with a JSON answer; a non-2xx answer rejects with K8sApiError. */
  async request(
    method: string,
    path: string,
    opts: { query?: Record<string, string | undefined>; body?: unknown; contentType?: string; timeoutMs?: number } = {},
  ): Promise<unknown> {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = await this.open(method, path, opts.query ?? {}, body, body === undefined ? undefined : (opts.contentType ?? 'application/json'));
    const what = `${method} ${path}`;
    return new Promise((resolve, reject) => {
      const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
      const timer = setTimeout(() => req.destroy(new Error(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) return reject(apiError(status, text, what));
          try {
            resolve(text ? JSON.parse(text) : undefined);
          } catch {
            reject(new K8sApiError(status, 'BadResponse', `${what}: answer is not JSON`));
          }
        });
      });
    });
  }

  /** One page of a list. */
  async listPage(path: string, query: Record<string, string | undefined>): Promise<ListPage> {
    const r = (await this.request('GET', path, { query })) as { items?: unknown; metadata?: { resourceVersion?: string; continue?: string } };
    if (!r || typeof r !== 'object' || !Array.isArray(r.items)) throw new K8sApiError(500, 'BadResponse', `GET ${path}: answer is not a list`);
    return {
      items: r.items as Array<Record<string, unknown>>,
      resourceVersion: r.metadata?.resourceVersion ?? '',
      continueToken: r.metadata?.continue || undefined,
    };
  }

  /**
   * Opens a watch stream. Events are newline-delimited JSON objects in a chunked response. Every
   * byte received resets the silence timer; when it fires the stream is aborted as dead. Exactly
   * one onEnd call follows, unless abort() was called first.
   */
  watch(path: string, query: Record<string, string | undefined>, h: WatchStreamHandlers, silenceMs = DEFAULT_STREAM_SILENCE_MS): StreamHandle {
    let req: http.ClientRequest | undefined;
    let aborted = false;
    let ended = false;
    let silence: NodeJS.Timeout | undefined;
    const what = `watch ${path}`;
    const end = (e: StreamEnd) => {
      clearTimeout(silence);
      if (ended || aborted) return;
      ended = true;
      req?.destroy();
      h.onEnd(e);
    };
    const armSilence = () => {
      clearTimeout(silence);
      silence = setTimeout(() => end({ type: 'error', error: new Error(`${what}: no data for ${silenceMs} ms; treating the stream as dead`) }), silenceMs);
    };
    armSilence();
    void this.open('GET', path, { ...query, watch: '1' }, undefined, undefined, true).then(
      (r) => {
        req = r;
        if (aborted) {
          // Aborted while credentials were being applied: the request is already sent, and
          // destroying it emits 'error' (socket hang up), which must not go unhandled.
          r.on('error', () => undefined);
          return void r.destroy();
        }
        r.on('error', (e) => end({ type: 'error', error: e }));
        r.on('response', (res) => {
          armSilence();
          const status = res.statusCode ?? 0;
          if (status !== 200) {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => end({ type: 'error', error: apiError(status, Buffer.concat(chunks).toString('utf8'), what) }));
            res.on('error', (e) => end({ type: 'error', error: e }));
            return;
          }
          if (!aborted) h.onOpen();
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (ended || aborted) return;
            armSilence();
            buf += chunk;
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl).trim();
              buf = buf.slice(nl + 1);
              if (!line) continue;
              let ev: WatchEvent;
              try {
                ev = JSON.parse(line) as WatchEvent;
              } catch {
                return end({ type: 'error', error: new Error(`${what}: undecodable event line ${JSON.stringify(line.slice(0, 100))}`) });
              }
              if (!ev || typeof ev !== 'object' || typeof ev.type !== 'string' || !ev.object || typeof ev.object !== 'object') {
                return end({ type: 'error', error: new Error(`${what}: malformed event ${JSON.stringify(line.slice(0, 100))}`) });
              }
              try {
                h.onEvent(ev);
              } catch (e) {
                // A bug downstream must end this stream (and be reported), not the process.
                return end({ type: 'error', error: new Error(`${what}: handling a ${ev.type} event failed: ${e instanceof Error ? e.message : String(e)}`) });
              }
              if (ended || aborted) return;
            }
          });
          // 'aborted' fires when the connection dies mid-response (no terminating chunk).
          res.on('aborted', () => end({ type: 'error', error: new Error(`${what}: connection closed mid-stream`) }));
          res.on('error', (e) => end({ type: 'error', error: e }));
          res.on('end', () => {
            if (!res.complete) end({ type: 'error', error: new Error(`${what}: connection closed mid-stream`) });
            else end({ type: 'clean' });
          });
        });
      },
      (e: unknown) => end({ type: 'error', error: e instanceof Error ? e : new Error(String(e)) }),
    );
    return {
      abort: () => {
        aborted = true;
        clearTimeout(silence);
        req?.destroy();
      },
    };
  }
}

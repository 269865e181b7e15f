/**
 * A local test Kubernetes API server speaking the list/watch protocol over node:http.
 *
 * Why it exists: there is no kube-apiserver on this machine and none can be installed, yet the
 * Kubernetes datastore backend has to be proven against the protocol a real API server speaks,
 * including its failure modes. This server keeps state in a multi-version store with one global
 * revision counter (like etcd under kube-apiserver) and serves it the way the real server does,
 * well enough for `kubectl get`/`create`/`apply --validate=false`/`delete` to work against it.
 *
 * What it implements:
 * - discovery: `/version`, `/api`, `/apis`, `/api/v1`, `/apis/<group>/<version>` for the types in
 *   resources.ts (core pods/nodes/namespaces/serviceaccounts/secrets/configmaps, networking
 *   networkpolicies, the Calico CRDs of crd.projectcalico.org/v1);
 * - list with `resourceVersion` (+ `resourceVersionMatch=Exact` for a snapshot), `limit` and
 *   `continue` served from the first page's snapshot, `labelSelector`, `fieldSelector`; list
 *   items of built-in types carry no kind/apiVersion, as on the real server;
 * - watch (`?watch=1`) as a chunked stream of JSON lines: from `resourceVersion` (history replay),
 *   or from "now" with synthetic ADDED events when it is empty/"0"; selector-aware transitions
 *   (an object leaving the selector arrives as DELETED, entering as ADDED); BOOKMARK events when
 *   `allowWatchBookmarks=true` (every `bookmarkIntervalMs`, and on demand); `timeoutSeconds`; a
 *   watch from a compacted revision gets 200 + an ERROR event with a 410 Status (what current
 *   kube-apiserver does), or an HTTP 410 if `tooOldWatchAsHttpStatus` is set;
 * - create (POST), get, replace (PUT, with resourceVersion conflict checks → 409), JSON merge
 *   patch and strategic-merge patch (PATCH; strategic merges `conditions`/`addresses` by `type`
 *   and `containers` by `name`, and replaces other lists), delete (with a resourceVersion
 *   precondition in DeleteOptions → 409), and the `/status`
 *   subresource (changes only `.status`);
 * - fault injection: `compact(rev)`, `failNextLists(n, code)`, `failNextWatches(n, code)`,
 *   `breakWatchesWithGone()` (ERROR 410 mid-stream), `dropWatches()` (socket destroyed without a
 *   clean end), `stallWatches()` (a stream that stays open and says nothing), `delayMs`.
 *
 * Optional: HTTPS with a given key/certificate, and a single bearer token (401 otherwise).
 *
 * What it does NOT implement: authorization (a request with the token may do anything), client
 * certificates, admission, defaulting and validation (objects are stored as sent, CRD schemas are not checked),
 * protobuf, OpenAPI documents (404; kubectl needs `--validate=false` for apply), server-side
 * apply, JSON patch (RFC 6902), strategic-merge directives ($patch, $retainKeys) and merge keys
 * beyond the three above, generation
 * and managedFields bookkeeping, finalizers/graceful deletion (DELETE removes at once), legacy
 * `/api/v1/watch/...` paths, `sendInitialEvents`/streaming lists, table output (`as=Table`:
 * kubectl falls back to its own columns), aggregated discovery (kubectl falls back).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { URL } from 'node:url';
import { StoreError, VersionedStore, type KubeObject, type StoreEvent } from './store.js';
import { parseFieldSelector, parseLabelSelector, type Matcher } from './selectors.js';
import {
  apiGroupListDoc,
  apiResourceListDoc,
  apiVersionOf,
  apiVersionsDoc,
  findType,
  resourceName,
  typeByName,
  type ResourceType,
} from './resources.js';

export type { KubeObject } from './store.js';

export type TestApiServerOptions = {
  /** How often open watches with allowWatchBookmarks get a BOOKMARK (real server: about a minute). */
  bookmarkIntervalMs?: number;
  /** Watch length when the client gives no timeoutSeconds (real server: 30-60 min, randomised). */
  defaultWatchTimeoutSeconds?: number;
  /** Answer a watch from a compacted revision with HTTP 410 instead of 200 + ERROR event. */
  tooOldWatchAsHttpStatus?: boolean;
  /** Serve HTTPS with this key and certificate (PEM) instead of plain HTTP. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Require `Authorization: Bearer <token>`; anything else gets 401 (no authorization beyond that). */
  bearerToken?: string;
  /** Port on 127.0.0.1 (default: an ephemeral one). */
  port?: number;
};

export type RequestRecord = { method: string; path: string; query: Record<string, string>; watch: boolean };

type ActiveWatch = {
  resource: string;
  res: http.ServerResponse;
  stalled: boolean;
  close: (how: 'end' | 'destroy') => void;
  sendBookmark: () => void;
  sendGone: () => void;
};

type Fault = { remaining: number; code: number; resource?: string };

/** Built-in list items are serialised without kind/apiVersion by the real server. */
const BUILTIN_GROUPS = new Set(['', 'networking.k8s.io']);

function status(code: number, reason: string, message: string): object {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

const REASON_BY_CODE: Record<number, string> = {
  400: 'BadRequest',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * Strategic merge patch, for the lists the node agent patches: lists under these keys merge
 * element-wise by the key named (Kubernetes' patchMergeKey for them); other lists are replaced.
 */
const STRATEGIC_MERGE_KEYS: Record<string, string> = { conditions: 'type', addresses: 'type', containers: 'name' };

function strategicMerge(target: unknown, patch: unknown, field?: string): unknown {
  const mergeKey = field ? STRATEGIC_MERGE_KEYS[field] : undefined;
  if (mergeKey && Array.isArray(patch) && Array.isArray(target)) {
    const out = target.map((x) => structuredClone(x) as Record<string, unknown>);
    for (const p of patch as Array<Record<string, unknown>>) {
      const i = out.findIndex((x) => x?.[mergeKey] === p?.[mergeKey]);
      if (i >= 0) out[i] = strategicMerge(out[i], p) as Record<string, unknown>;
      else out.push(p);
    }
    return out;
  }
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = strategicMerge(out[k], v, k);
  }
  return out;
}

type Route = { type: ResourceType; namespace?: string; name?: string; subresource?: string };

export class TestApiServer {
  readonly store = new VersionedStore();
  readonly requests: RequestRecord[] = [];
  /** Milliseconds to wait before answering any request. */
  delayMs = 0;
  /** Called for every request before it is served (tests use it to act between list pages). */
  onRequest?: (r: RequestRecord) => void;

  private server!: http.Server | https.Server;
  private readonly watches = new Set<ActiveWatch>();
  private listFaults: Fault[] = [];
  private watchFaults: Fault[] = [];
  private bookmarkTimer?: NodeJS.Timeout;
  private readonly opts: Required<Omit<TestApiServerOptions, 'tls' | 'bearerToken' | 'port'>> & Pick<TestApiServerOptions, 'tls' | 'bearerToken' | 'port'>;
  private portNumber = 0;

  private constructor(opts: TestApiServerOptions) {
    this.opts = {
      bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 1000,
      defaultWatchTimeoutSeconds: opts.defaultWatchTimeoutSeconds ?? 1800,
      tooOldWatchAsHttpStatus: opts.tooOldWatchAsHttpStatus ?? false,
      tls: opts.tls,
      bearerToken: opts.bearerToken,
      port: opts.port,
    };
  }

  static async start(opts: TestApiServerOptions = {}): Promise<TestApiServer> {
    const s = new TestApiServer(opts);
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      void s.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) s.send(res, 500, status(500, 'InternalError', String(e)));
        else res.destroy();
      });
    };
    s.server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, handler) : http.createServer(handler);
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    s.portNumber = (s.server.address() as AddressInfo).port;
    s.bookmarkTimer = setInterval(() => s.sendBookmarks(), s.opts.bookmarkIntervalMs);
    s.bookmarkTimer.unref();
    return s;
  }

  get port(): number {
    return this.portNumber;
  }

  get url(): string {
    return `${this.opts.tls ? 'https' : 'http'}://127.0.0.1:${this.portNumber}`;
  }

  async stop(): Promise<void> {
    clearInterval(this.bookmarkTimer);
    for (const w of this.watches) w.close('destroy');
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- state, for tests -------------------------------------------------------------------

  /** Creates an object; `resource` is kubectl-style (`pods`, `ippools.crd.projectcalico.org`). */
  create(resource: string, obj: KubeObject): KubeObject {
    const t = typeByName(resource);
    return this.store.create(resourceName(t), { apiVersion: apiVersionOf(t), kind: t.kind, ...obj });
  }

  /** Replaces an object unconditionally (ignores the resourceVersion the caller holds). */
  replace(resource: string, obj: KubeObject): KubeObject {
    const t = typeByName(resource);
    const o = structuredClone(obj);
    delete o.metadata.resourceVersion;
    return this.store.update(resourceName(t), { apiVersion: apiVersionOf(t), kind: t.kind, ...o });
  }

  /** Applies a JSON merge patch to an existing object. */
  patch(resource: string, namespace: string | undefined, name: string, patch: object): KubeObject {
    const cur = this.store.get(resource, namespace, name);
    if (!cur) throw new Error(`${resource} ${namespace ?? ''}/${name} not found`);
    return this.replace(resource, mergePatch(cur, patch) as KubeObject);
  }

  remove(resource: string, namespace: string | undefined, name: string): KubeObject {
    typeByName(resource);
    return this.store.delete(resource, namespace, name);
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.store.get(resource, namespace, name);
  }

  /** The server's truth: the current objects of one resource. */
  list(resource: string): KubeObject[] {
    return this.store.list(resource);
  }

  get revision(): number {
    return this.store.revision;
  }

  // ---- fault injection --------------------------------------------------------------------

  compact(rev?: number): void {
    this.store.compact(rev);
  }

  failNextLists(n: number, code = 500, resource?: string): void {
    this.listFaults.push({ remaining: n, code, resource });
  }

  failNextWatches(n: number, code = 500, resource?: string): void {
    this.watchFaults.push({ remaining: n, code, resource });
  }

  /** Sends every matching open watch an ERROR event with a 410 Status, then ends it. */
  breakWatchesWithGone(resource?: string): number {
    return this.forWatches(resource, (w) => w.sendGone());
  }

  /** Destroys the sockets of matching open watches: no terminating chunk, no clean end. */
  dropWatches(resource?: string): number {
    return this.forWatches(resource, (w) => w.close('destroy'));
  }

  /** Matching open watches stay open but never send another byte (no events, no bookmarks). */
  stallWatches(resource?: string): number {
    return this.forWatches(resource, (w) => (w.stalled = true));
  }

  sendBookmarks(resource?: string): number {
    return this.forWatches(resource, (w) => w.sendBookmark());
  }

  activeWatches(resource?: string): number {
    return this.forWatches(resource, () => undefined);
  }

  private forWatches(resource: string | undefined, fn: (w: ActiveWatch) => void): number {
    let n = 0;
    for (const w of [...this.watches]) {
      if (resource && w.resource !== resource) continue;
      n++;
      fn(w);
    }
    return n;
  }

  private takeFault(faults: Fault[], resource: string): number | undefined {
    const f = faults.find((x) => x.remaining > 0 && (!x.resource || x.resource === resource));
    if (!f) return undefined;
    f.remaining--;
    return f.code;
  }

  // ---- HTTP -------------------------------------------------------------------------------

  private send(res: http.ServerResponse, code: number, body: object): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private sendError(res: http.ServerResponse, e: unknown): void {
    if (e instanceof StoreError) this.send(res, e.status, status(e.status, e.reason, e.message));
    else this.send(res, 500, status(500, 'InternalError', String(e)));
  }

  private route(segs: string[]): Route | undefined {
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === 'api') {
      group = '';
      version = segs[1];
      rest = segs.slice(2);
    } else if (segs[0] === 'apis') {
      group = segs[1];
      version = segs[2];
      rest = segs.slice(3);
    } else return undefined;
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize') {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const type = findType(group, version, rest[0]);
    if (!type || rest.length > 3) return undefined;
    if (namespace && !type.namespaced) return undefined;
    return { type, namespace, name: rest[1], subresource: rest[2] };
  }

  private async readBody(req: http.IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      return text ? JSON.parse(text) : {};
    } catch {
      throw new StoreError(400, 'BadRequest', 'request body is not valid JSON');
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const q = url.searchParams;
    const isWatch = q.get('watch') === '1' || q.get('watch') === 'true';
    const record: RequestRecord = { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(q), watch: isWatch };
    this.requests.push(record);
    this.onRequest?.(record);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.opts.bearerToken !== undefined && req.headers.authorization !== `Bearer ${this.opts.bearerToken}`) {
      return this.send(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
    }

    const segs = url.pathname.split('/').filter(Boolean);
    const method = req.method ?? 'GET';
    if (method === 'GET') {
      if (url.pathname === '/version') {
        return this.send(res, 200, { major: '1', minor: '30', gitVersion: 'v1.30.0-tortie-test', platform: 'linux/amd64' });
      }
      if (url.pathname === '/api') return this.send(res, 200, apiVersionsDoc(`127.0.0.1:${this.port}`));
      if (url.pathname === '/apis') return this.send(res, 200, apiGroupListDoc());
      if (segs[0] === 'api' && segs.length === 2) {
        const doc = apiResourceListDoc('', segs[1]);
        if (doc) return this.send(res, 200, doc);
      }
      if (segs[0] === 'apis' && segs.length === 3) {
        const doc = apiResourceListDoc(segs[1], segs[2]);
        if (doc) return this.send(res, 200, doc);
      }
    }
    const route = this.route(segs);
    if (!route) return this.send(res, 404, status(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`));
    const resource = resourceName(route.type);
    try {
      if (method === 'GET' && !route.name) {
        if (isWatch) return this.serveWatch(req, res, route, q);
        return this.serveList(res, route, q);
      }
      if (method === 'GET') {
        const o = this.store.get(resource, route.namespace, route.name!);
        if (!o) throw new StoreError(404, 'NotFound', `${resource} "${route.name}" not found`);
        return this.send(res, 200, o);
      }
      if (method === 'POST' && !route.name) {
        const body = (await this.readBody(req)) as KubeObject;
        if (!body?.metadata?.name) throw new StoreError(400, 'BadRequest', 'metadata.name is required');
        if (route.type.namespaced) body.metadata.namespace = route.namespace ?? body.metadata.namespace ?? 'default';
        delete body.metadata.resourceVersion;
        const created = this.store.create(resource, { ...body, apiVersion: apiVersionOf(route.type), kind: route.type.kind });
        return this.send(res, 201, created);
      }
      if (method === 'PUT' && route.name) {
        const body = (await this.readBody(req)) as KubeObject;
        if (!body?.metadata) throw new StoreError(400, 'BadRequest', 'metadata is required');
        if (body.metadata.name !== route.name) throw new StoreError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
        let next: KubeObject = { ...body, apiVersion: apiVersionOf(route.type), kind: route.type.kind };
        if (route.subresource === 'status') {
          const cur = this.store.get(resource, route.namespace, route.name);
          if (!cur) throw new StoreError(404, 'NotFound', `${resource} "${route.name}" not found`);
          next = { ...cur, status: body.status, metadata: { ...cur.metadata, resourceVersion: body.metadata.resourceVersion } };
        }
        if (route.namespace) next.metadata.namespace = route.namespace;
        return this.send(res, 200, this.store.update(resource, next));
      }
      if (method === 'PATCH' && route.name) {
        const ctype = (req.headers['content-type'] ?? '').split(';')[0].trim();
        if (ctype !== 'application/merge-patch+json' && ctype !== 'application/strategic-merge-patch+json') {
          throw new StoreError(415, 'UnsupportedMediaType', `the test API server does not support patch type ${ctype}`);
        }
        const patch = await this.readBody(req);
        const cur = this.store.get(resource, route.namespace, route.name);
        if (!cur) throw new StoreError(404, 'NotFound', `${resource} "${route.name}" not found`);
        const merge = ctype === 'application/strategic-merge-patch+json' ? strategicMerge : mergePatch;
        let next = merge(cur, route.subresource === 'status' ? { status: (patch as { status?: unknown }).status } : patch) as KubeObject;
        next = { ...next, metadata: { ...next.metadata, name: cur.metadata.name, namespace: cur.metadata.namespace } };
        if (!(patch as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion) next.metadata.resourceVersion = undefined;
        return this.send(res, 200, this.store.update(resource, next));
      }
      if (method === 'DELETE' && route.name) {
        // DeleteOptions.preconditions.resourceVersion: delete only the version the caller read.
        const opts = (await this.readBody(req)) as { preconditions?: { resourceVersion?: string } };
        const want = opts?.preconditions?.resourceVersion;
        const cur = want ? this.store.get(resource, route.namespace, route.name) : undefined;
        if (want && cur && cur.metadata.resourceVersion !== want) {
          throw new StoreError(409, 'Conflict', `Operation cannot be fulfilled on ${resource} "${route.name}": Precondition failed: ResourceVersion: Precondition failed: ${want}, actual ${cur.metadata.resourceVersion}`);
        }
        return this.send(res, 200, this.store.delete(resource, route.namespace, route.name));
      }
      throw new StoreError(405, 'MethodNotAllowed', `${method} is not supported on ${url.pathname}`);
    } catch (e) {
      this.sendError(res, e);
    }
  }

  private matcher(route: Route, q: URLSearchParams): Matcher {
    const label = parseLabelSelector(q.get('labelSelector'));
    const field = parseFieldSelector(q.get('fieldSelector'));
    return (o) => (!route.namespace || o.metadata.namespace === route.namespace) && label(o) && field(o);
  }

  private serveList(res: http.ServerResponse, route: Route, q: URLSearchParams): void {
    const resource = resourceName(route.type);
    const code = this.takeFault(this.listFaults, resource);
    if (code !== undefined) {
      return this.send(res, code, status(code, REASON_BY_CODE[code] ?? 'Unknown', `injected list failure (${code})`));
    }
    const match = this.matcher(route, q);
    let atRev = this.store.revision;
    let startAfter: string | undefined;
    const cont = q.get('continue');
    if (cont) {
      let tok: { rv: number; start: string };
      try {
        tok = JSON.parse(Buffer.from(cont, 'base64url').toString('utf8')) as { rv: number; start: string };
      } catch {
        throw new StoreError(400, 'BadRequest', 'continue key is not valid');
      }
      if (tok.rv < this.store.compactedRevision) {
        throw new StoreError(
          410,
          'Expired',
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        );
      }
      atRev = tok.rv;
      startAfter = tok.start;
    } else if (q.get('resourceVersionMatch') === 'Exact' && q.get('resourceVersion')) {
      atRev = Number(q.get('resourceVersion'));
    }
    const keyOf = (o: KubeObject) => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name);
    let items = this.store.list(resource, atRev).filter(match);
    if (startAfter !== undefined) items = items.filter((o) => keyOf(o) > startAfter!);
    const limit = Number(q.get('limit') ?? 0);
    const metadata: Record<string, unknown> = { resourceVersion: String(atRev) };
    if (limit > 0 && items.length > limit) {
      const rest = items.length - limit;
      items = items.slice(0, limit);
      metadata.continue = Buffer.from(JSON.stringify({ rv: atRev, start: keyOf(items[items.length - 1]) })).toString('base64url');
      if (!q.get('labelSelector') && !q.get('fieldSelector')) metadata.remainingItemCount = rest;
    }
    if (BUILTIN_GROUPS.has(route.type.group)) {
      for (const o of items) {
        delete o.apiVersion;
        delete o.kind;
      }
    }
    this.send(res, 200, { kind: `${route.type.kind}List`, apiVersion: apiVersionOf(route.type), metadata, items });
  }

  private serveWatch(req: http.IncomingMessage, res: http.ServerResponse, route: Route, q: URLSearchParams): void {
    const resource = resourceName(route.type);
    const code = this.takeFault(this.watchFaults, resource);
    if (code !== undefined) {
      return this.send(res, code, status(code, REASON_BY_CODE[code] ?? 'Unknown', `injected watch failure (${code})`));
    }
    const match = this.matcher(route, q);
    const rvParam = q.get('resourceVersion');
    const bookmarks = q.get('allowWatchBookmarks') === 'true' || q.get('allowWatchBookmarks') === '1';
    const timeoutSeconds = Number(q.get('timeoutSeconds') ?? this.opts.defaultWatchTimeoutSeconds);

    let backlog: StoreEvent[] = [];
    let initial: KubeObject[] = [];
    if (!rvParam || rvParam === '0') {
      initial = this.store.list(resource).filter(match);
    } else {
      const from = Number(rvParam);
      if (!Number.isInteger(from) || from < 0) throw new StoreError(400, 'BadRequest', `invalid resourceVersion ${rvParam}`);
      if (from < this.store.compactedRevision) {
        const msg = `too old resource version: ${from} (${this.store.compactedRevision})`;
        if (this.opts.tooOldWatchAsHttpStatus) return this.send(res, 410, status(410, 'Expired', msg));
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', msg) }) + '\n');
        return;
      }
      backlog = this.store.eventsSince(resource, from);
    }

    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const withType = (o: KubeObject): KubeObject => ({ apiVersion: apiVersionOf(route.type), kind: route.type.kind, ...o });
    let closed = false;
    const w: ActiveWatch = {
      resource,
      res,
      stalled: false,
      close: (how) => {
        if (closed) return;
        closed = true;
        unsubscribe();
        clearTimeout(timer);
        this.watches.delete(w);
        if (how === 'destroy') res.socket?.destroy();
        else res.end();
      },
      sendBookmark: () => {
        if (!bookmarks || closed || w.stalled) return;
        const bm = { apiVersion: apiVersionOf(route.type), kind: route.type.kind, metadata: { resourceVersion: String(this.store.revision) } };
        res.write(JSON.stringify({ type: 'BOOKMARK', object: bm }) + '\n');
      },
      sendGone: () => {
        if (closed) return;
        const msg = `too old resource version: ${this.store.compactedRevision} (${this.store.revision})`;
        res.write(JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', msg) }) + '\n');
        w.close('end');
      },
    };
    const deliver = (e: StoreEvent): void => {
      if (closed || w.stalled) return;
      const now = match(e.object) && e.type !== 'DELETED';
      const before = e.prev !== undefined && match(e.prev);
      let type: string | undefined;
      if (e.type === 'DELETED') type = before ? 'DELETED' : undefined;
      else if (now && before) type = 'MODIFIED';
      else if (now) type = 'ADDED';
      else if (before) type = 'DELETED';
      if (type) res.write(JSON.stringify({ type, object: withType(e.object) }) + '\n');
    };
    for (const o of initial) res.write(JSON.stringify({ type: 'ADDED', object: withType(o) }) + '\n');
    for (const e of backlog) deliver(e);
    const unsubscribe = this.store.onEvent((e) => {
      if (e.resource === resource) deliver(e);
    });
    const timer = setTimeout(() => {
      w.sendBookmark();
      w.close('end');
    }, timeoutSeconds * 1000);
    this.watches.add(w);
    req.on('close', () => w.close('end'));
    res.on('close', () => w.close('end'));
    res.on('error', () => w.close('destroy'));
  }
}

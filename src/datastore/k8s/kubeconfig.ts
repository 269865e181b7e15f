/**
 * Where the API server is and how to authenticate to it: @kubernetes/client-node's KubeConfig
 * (kubeconfig files, the in-cluster service account, exec and auth-provider plugins), adapted to
 * the one thing client.ts needs, "add credentials and TLS settings to this request".
 *
 * The library is pinned to 1.3 (package.json `~1.3.0`): 2.x depends on undici 8, which needs
 * Node >= 22.19 and throws at import on Node 20, tortie's minimum.
 *
 * What is added on top of the library, and why:
 * - Everything is checked once at load (current context, a plain-HTTP server, readable CA,
 *   certificate, key and token files), so a broken kubeconfig is a UserError naming the file at
 *   startup instead of every request failing later.
 * - client-go's `tokenFile` user field (a token the kubelet rotates) is handed to the library's
 *   own token-file authenticator, the one its in-cluster loader uses (re-read every minute, as
 *   client-go does): client-node 1.3 reads only `token` from a kubeconfig and would otherwise
 *   send no credentials at all. The token's trailing newline is trimmed per request.
 */
import { readFileSync } from 'node:fs';
import type https from 'node:https';
import { dirname, resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { errorMessage, UserError } from '../../util/errors.js';

/** Server address plus a function that adds credentials/TLS settings to each request. */
export interface KubeAuth {
  readonly server: string;
  /** Where the settings came from, for logs. */
  readonly source: string;
  apply(opts: https.RequestOptions): Promise<void>;
}

/** No credentials (the test API server, `kubectl proxy`). */
export function anonymousAuth(server: string): KubeAuth {
  return { server, source: 'explicit server', apply: async () => undefined };
}

/** The `tokenFile` of the current user as written in the file, if the library ignored it. */
function rawTokenFile(text: string, userName: string): string | undefined {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch {
    return undefined; // the library parsed it; a YAML dialect difference is not worth failing on
  }
  const users = (raw as { users?: unknown } | null)?.users;
  if (!Array.isArray(users)) return undefined;
  const entry = users.find((u: unknown) => (u as { name?: unknown } | null)?.name === userName) as { user?: { tokenFile?: unknown } } | undefined;
  const f = entry?.user?.tokenFile;
  return typeof f === 'string' && f !== '' ? f : undefined;
}

/** Reads a kubeconfig file into `kc` as KubeConfig.loadFromFile does, plus `tokenFile`. */
function loadFile(kc: KubeConfig, path: string): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read kubeconfig ${path}: ${errorMessage(e)}`);
  }
  try {
    kc.loadFromString(text);
  } catch (e) {
    throw new UserError(`kubeconfig ${path} is invalid: ${errorMessage(e)}`);
  }
  kc.makePathsAbsolute(dirname(path));
  const user = kc.getCurrentUser();
  // client-go: an explicit token wins over tokenFile; plugins are a different mechanism.
  if (!user || user.token || user.authProvider || user.exec) return;
  const tokenFile = rawTokenFile(text, user.name);
  if (!tokenFile) return;
  const withFile = { ...user, authProvider: { name: 'tokenFile', config: { tokenFile: resolve(dirname(path), tokenFile) } } };
  kc.users = kc.users.map((u) => (u === user ? withFile : u));
}

/**
 * Loads credentials the way calico-node does: the kubeconfig at `kubeconfigPath` (KUBECONFIG), or
 * the in-cluster service account. Rejects with a UserError saying what to fix. An exec plugin runs
 * once here (the library caches its credential until it expires).
 */
export async function loadKubeAuth(kubeconfigPath?: string): Promise<KubeAuth> {
  const kc = new KubeConfig();
  const source = kubeconfigPath ? `kubeconfig ${kubeconfigPath}` : 'in-cluster service account';
  if (kubeconfigPath) {
    loadFile(kc, kubeconfigPath);
  } else {
    // The library would build "https://undefined:undefined" from missing variables.
    if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) {
      throw new UserError('no kubeconfig given (KUBECONFIG) and not running in a pod (KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are unset)');
    }
    kc.loadFromCluster();
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new UserError(`${source}: current-context ${JSON.stringify(kc.getCurrentContext() ?? null)} does not name a context with a known cluster`);
  }
  if (cluster.proxyUrl) {
    // client.ts makes its own connections (keep-alive pool, one per watch), so a proxy agent
    // from the library would be dropped silently; refuse rather than bypass the proxy.
    throw new UserError(`${source}: proxy-url is not supported; tortie connects to ${cluster.server} directly`);
  }
  if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
    throw new UserError(
      `${source}: server ${cluster.server} is plain HTTP; @kubernetes/client-node refuses that unless the cluster sets insecure-skip-tls-verify: true`,
    );
  }
  try {
    await kc.applyToHTTPSOptions({});
  } catch (e) {
    throw new UserError(`${source}: cannot use its credentials: ${errorMessage(e)}`);
  }
  return {
    server: cluster.server,
    source,
    apply: async (opts) => {
      await kc.applyToHTTPSOptions(opts);
      // The library also builds an agent per call; client.ts chooses its own (keep-alive pool for
      // requests, a fresh connection per watch), and TLS settings travel in `opts` itself.
      delete opts.agent;
      // Its token-file authenticator keeps the file's trailing newline, which node:http rejects
      // in a header; client-go trims it too.
      const h = opts.headers as Record<string, unknown> | undefined;
      if (typeof h?.Authorization === 'string') h.Authorization = h.Authorization.trim();
    },
  };
}

/**
 * Where the API server is and how to authenticate to it.
 *
 * Normally @kubernetes/client-node's KubeConfig does this (kubeconfig files, in-cluster service
 * account, exec and auth-provider plugins), and it is used whenever it loads. But client-node 2.x
 * depends on undici 8, which needs Node >= 22.19 and throws at import time on Node 20 (tortie's
 * minimum: `zlib.createZstdDecompress` does not exist there). So the library is imported lazily,
 * and when that fails a small built-in loader covers what a node agent needs: the in-cluster
 * service account (token re-read on every request, as kubelet rotates it) and kubeconfig files
 * with a token, token file, client certificate or CA given as a path or inline data. Exec and
 * auth-provider plugins need the library (and so Node >= 22.19); the error says so.
 */
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';
import type https from 'node:https';
import { dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { UserError } from '../../util/errors.js';

/** Server address plus a function that adds credentials/TLS settings to each request. */
export interface KubeAuth {
  readonly server: string;
  /** Where the settings came from, for logs. */
  readonly source: string;
  apply(opts: https.RequestOptions): Promise<void>;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** No credentials (the test API server, `kubectl proxy`). */
export function anonymousAuth(server: string): KubeAuth {
  return { server, source: 'explicit server', apply: async () => undefined };
}

type KubeconfigFile = {
  'current-context'?: string;
  contexts?: Array<{ name: string; context?: { cluster?: string; user?: string } }>;
  clusters?: Array<{ name: string; cluster?: Record<string, unknown> }>;
  users?: Array<{ name: string; user?: Record<string, unknown> }>;
};

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Built-in loader: a kubeconfig file, else the in-cluster service account. */
export function builtinAuth(kubeconfigPath?: string): KubeAuth {
  if (!kubeconfigPath) {
    const host = process.env.KUBERNETES_SERVICE_HOST;
    const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
    if (!host) throw new UserError('no kubeconfig given (KUBECONFIG) and not running in a pod (KUBERNETES_SERVICE_HOST is unset)');
    const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return {
      server,
      source: 'in-cluster service account',
      apply: async (opts) => {
        opts.ca = readFileSync(join(SA_DIR, 'ca.crt'));
        const token = readFileSync(join(SA_DIR, 'token'), 'utf8').trim();
        opts.headers = { ...(opts.headers ?? {}), Authorization: `Bearer ${token}` };
      },
    };
  }
  let doc: KubeconfigFile;
  try {
    doc = parseYaml(readFileSync(kubeconfigPath, 'utf8')) as KubeconfigFile;
  } catch (e) {
    throw new UserError(`cannot read kubeconfig ${kubeconfigPath}: ${(e as Error).message}`);
  }
  const base = dirname(kubeconfigPath);
  const file = (p: string) => readFileSync(isAbsolute(p) ? p : join(base, p));
  const ctxName = doc['current-context'];
  const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new UserError(`kubeconfig ${kubeconfigPath}: current-context ${JSON.stringify(ctxName)} is not among its contexts`);
  const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  const server = str(cluster?.server);
  if (!cluster || !server) throw new UserError(`kubeconfig ${kubeconfigPath}: cluster ${JSON.stringify(ctx.cluster)} has no server address`);
  const user = doc.users?.find((u) => u.name === ctx.user)?.user ?? {};
  if (user.exec || user['auth-provider']) {
    throw new UserError(
      `kubeconfig ${kubeconfigPath}: user ${JSON.stringify(ctx.user)} uses an exec/auth-provider plugin, which needs @kubernetes/client-node and so Node >= 22.19; use a token or client certificate`,
    );
  }
  const caData = str(cluster['certificate-authority-data']);
  const caFile = str(cluster['certificate-authority']);
  const certData = str(user['client-certificate-data']);
  const certFile = str(user['client-certificate']);
  const keyData = str(user['client-key-data']);
  const keyFile = str(user['client-key']);
  const token = str(user.token);
  const tokenFile = str(user.tokenFile);
  const insecure = cluster['insecure-skip-tls-verify'] === true;
  const tlsServerName = str(cluster['tls-server-name']);
  return {
    server,
    source: `kubeconfig ${kubeconfigPath}`,
    apply: async (opts) => {
      if (caData) opts.ca = Buffer.from(caData, 'base64');
      else if (caFile) opts.ca = file(caFile);
      if (certData) opts.cert = Buffer.from(certData, 'base64');
      else if (certFile) opts.cert = file(certFile);
      if (keyData) opts.key = Buffer.from(keyData, 'base64');
      else if (keyFile) opts.key = file(keyFile);
      if (insecure) opts.rejectUnauthorized = false;
      if (tlsServerName) opts.servername = tlsServerName;
      const bearer = token ?? (tokenFile ? file(tokenFile).toString('utf8').trim() : undefined);
      if (bearer) opts.headers = { ...(opts.headers ?? {}), Authorization: `Bearer ${bearer}` };
      if (str(user.username)) opts.auth = `${str(user.username)}:${str(user.password) ?? ''}`;
    },
  };
}

/** True when @kubernetes/client-node (through undici 8) can be imported on this Node. */
export function clientNodeLoadable(): boolean {
  return typeof (zlib as unknown as Record<string, unknown>).createZstdDecompress === 'function';
}

/**
 * Loads credentials the way calico-node does: the kubeconfig at `kubeconfigPath` (KUBECONFIG), or
 * the in-cluster service account. Uses @kubernetes/client-node when it can be imported.
 */
export async function loadKubeAuth(kubeconfigPath?: string): Promise<KubeAuth> {
  // Feature-test what undici 8 needs instead of trying the import: a failed import of it leaves
  // an internal promise rejection that Node reports as unhandled, which can end the process.
  if (!clientNodeLoadable()) return builtinAuth(kubeconfigPath);
  const lib = await import('@kubernetes/client-node');
  const kc = new lib.KubeConfig();
  try {
    if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
    else kc.loadFromCluster();
  } catch (e) {
    throw new UserError(`cannot load Kubernetes credentials from ${kubeconfigPath ?? 'the in-cluster service account'}: ${(e as Error).message}`);
  }
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new UserError(`kubeconfig ${kubeconfigPath ?? '(in-cluster)'} has no current cluster with a server address`);
  return { server, source: kubeconfigPath ? `kubeconfig ${kubeconfigPath}` : 'in-cluster service account', apply: (opts) => kc.applyToHTTPSOptions(opts) };
}

/**
 * etcd client configuration as calico-node takes it (ETCD_ENDPOINTS, ETCD_CA_CERT_FILE,
 * ETCD_CERT_FILE, ETCD_KEY_FILE), turned into `etcd3` options with the gRPC keepalive and
 * deadlines that make a dead or black-holed etcd visible within seconds.
 *
 * What we found reading etcd3 1.1.2 and @grpc/grpc-js (see docs/datastore.md):
 * - `dialTimeout` in etcd3's IOptions is declared but never read; dial time is bounded instead by
 *   per-call deadlines (unary calls) and by the syncer's watch-creation timeout (streams).
 * - Keepalive must be set through `grpcOptions` (channel options). etcd's server enforces
 *   `--grpc-keepalive-min-time` (default 5 s) and rejects pings without an active stream, so we
 *   ping every 6 s and only while a call is active (the watch stream always is).
 */
import { readFileSync } from 'node:fs';
import type { IOptions } from 'etcd3';
import { UserError } from '../../util/errors.js';

/** Ping interval: above etcd's default keepalive enforcement minimum of 5 s. */
export const KEEPALIVE_TIME_MS = 6_000;
/** A ping unanswered this long closes the transport (so a black hole is noticed in ~10 s). */
export const KEEPALIVE_TIMEOUT_MS = 4_000;
/** Deadline of each unary request (one list page): generous for a 500-item page on a loaded etcd. */
export const REQUEST_TIMEOUT_MS = 15_000;
/** Largest response we accept: a page of big IPAM blocks can exceed grpc-js's 4 MiB default. */
export const MAX_RECEIVE_BYTES = 64 * 1024 * 1024;
/** How quickly grpc-js redials a lost connection (its default max is 120 s). */
export const MAX_RECONNECT_BACKOFF_MS = 5_000;

export interface EtcdConfig {
  endpoints: string[];
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** Reads calico-node's ETCD_* variables. */
export function etcdConfigFromEnv(env: NodeJS.ProcessEnv = process.env): EtcdConfig {
  const endpoints = (env.ETCD_ENDPOINTS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return {
    endpoints: endpoints.length ? endpoints : ['http://127.0.0.1:2379'],
    caFile: env.ETCD_CA_CERT_FILE || undefined,
    certFile: env.ETCD_CERT_FILE || undefined,
    keyFile: env.ETCD_KEY_FILE || undefined,
  };
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new UserError(`cannot read etcd ${what} ${file}: ${(e as Error).message}`);
  }
}

export function etcdClientOptions(cfg: EtcdConfig): IOptions {
  for (const ep of cfg.endpoints) {
    if (!/^(https?:\/\/)?[^/\s]+$/.test(ep) && !ep.startsWith('unix:')) {
      throw new UserError(`invalid etcd endpoint ${JSON.stringify(ep)}: expected http(s)://host:port`);
    }
  }
  if ((cfg.certFile && !cfg.keyFile) || (!cfg.certFile && cfg.keyFile)) {
    throw new UserError('ETCD_CERT_FILE and ETCD_KEY_FILE must be set together');
  }
  const tls = cfg.caFile || cfg.certFile || cfg.endpoints.some((e) => e.startsWith('https://'));
  const opts: IOptions = {
    hosts: cfg.endpoints,
    grpcOptions: {
      'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
      'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
      'grpc.keepalive_permit_without_calls': 0,
      'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
      'grpc.max_reconnect_backoff_ms': MAX_RECONNECT_BACKOFF_MS,
    },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + REQUEST_TIMEOUT_MS }),
  };
  if (tls) {
    if (!cfg.caFile) throw new UserError('TLS to etcd needs ETCD_CA_CERT_FILE');
    opts.credentials = {
      rootCertificate: readPem(cfg.caFile, 'CA certificate'),
      ...(cfg.certFile ? { certChain: readPem(cfg.certFile, 'client certificate'), privateKey: readPem(cfg.keyFile!, 'client key') } : {}),
    };
  }
  return opts;
}

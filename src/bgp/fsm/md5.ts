/**
 * TCP MD5 signatures (RFC 2385, Calico BGPPeer `password`) and TTL security (GTSM, RFC 5082,
 * Calico BGPPeer `ttlSecurity`) for BGP sessions. node:net cannot set TCP_MD5SIG (a
 * struct-valued option), IP_TTL or IP_MINTTL on TCP sockets, so this loads the small native
 * addon in native/tcpmd5 (built by `make build`, scripts/build-native.sh). Outgoing sessions that need
 * either are connected by the addon (the key and TTL must be on the socket before the SYN); the
 * listening socket gets one key per peer, which accepted connections inherit.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type net from 'node:net';
import { UserError } from '../../util/errors.js';

interface TcpMd5Addon {
  setMd5(fd: number, peer: string, key: string): void;
  setTtl(fd: number, ttl: number): void;
  setMinTtl(fd: number, minTtl: number): void;
  connect(host: string, port: number, localAddress: string, key: string, ttl: number, timeoutMs: number, minTtl: number): Promise<number>;
}

/** RFC 2385 / Linux TCP_MD5SIG_MAXKEYLEN. */
export const MAX_MD5_KEY_LENGTH = 80;

let addon: TcpMd5Addon | null | undefined;

function addonPath(): string | undefined {
  // src/bgp/fsm (tsx) or dist/src/bgp/fsm (compiled): the repository root is 3 or 4 levels up.
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of [['..', '..', '..'], ['..', '..', '..', '..']]) {
    const p = join(here, ...up, 'native', 'tcpmd5', 'build', 'Release', 'tcpmd5.node');
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** The addon, or null when it was not built. */
export function loadTcpMd5(): TcpMd5Addon | null {
  if (addon !== undefined) return addon;
  const p = addonPath();
  addon = p ? (createRequire(import.meta.url)(p) as TcpMd5Addon) : null;
  return addon;
}

/** GTSM: we send with TTL 255 and accept only what arrived with at most `hops - 1` hops used. */
export const GTSM_TTL = 255;
export function gtsmMinTtl(hops: number): number {
  return GTSM_TTL - hops + 1;
}

export function requireTcpMd5(peer: string, what = 'a password (TCP MD5, RFC 2385)'): TcpMd5Addon {
  const a = loadTcpMd5();
  if (!a) {
    throw new UserError(
      `peer ${peer} has ${what}, which needs tortie's native addon native/tcpmd5; it is not built: run 'make build' (needs g++ and node headers)`,
      { code: 'E_MD5_UNAVAILABLE' },
    );
  }
  return a;
}

/** The file descriptor behind a listening server or socket (Linux; libuv keeps it in _handle). */
export function fdOf(h: net.Server | net.Socket): number {
  const fd = (h as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('socket has no file descriptor');
  return fd;
}

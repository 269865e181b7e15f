/**
 * Small HTTP plumbing shared by the health and metrics servers: listen with an error that names
 * the setting to change, and close promptly even with keep-alive connections open (a Prometheus
 * scraper or kubelet holding a connection must not delay shutdown).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserError } from '../util/errors.js';

export async function listenHttp(server: http.Server, host: string, port: number, settingsHint: string): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      const why =
        e.code === 'EADDRINUSE'
          ? 'the address is already in use (another agent or calico-node on this node?)'
          : e.code === 'EADDRNOTAVAIL'
            ? 'no interface on this node has that address'
            : e.code === 'EACCES'
              ? 'permission denied'
              : e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN'
                ? 'the host name does not resolve'
                : e.message;
      reject(new UserError(`cannot listen on ${host}:${port}: ${why}; check ${settingsHint}`, { exitCode: 1 }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

export async function closeHttp(server: http.Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headOnly = false): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(headOnly ? undefined : text);
}

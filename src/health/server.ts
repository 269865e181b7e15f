/**
 * Serves the aggregator over HTTP for Kubernetes probes, on FELIX_HEALTHHOST:FELIX_HEALTHPORT
 * like Felix: `/liveness` and `/readiness` answer 200 when good and 503 when not, with a JSON
 * body naming every component and its state; `/health` gives both. Kubernetes only looks at the
 * status code; the body is for the operator running curl.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../util/log.js';
import type { HealthAggregator } from './aggregator.js';
import { closeHttp, listenHttp, sendJson } from './http.js';

export const HEALTH_PATHS = ['/liveness', '/readiness', '/health'] as const;

export class HealthServer {
  private readonly server: http.Server;
  private readonly log: Logger;

  constructor(
    private readonly opts: { aggregator: HealthAggregator; host: string; port: number; logger: Logger },
  ) {
    this.log = opts.logger.child({ component: 'health-server' });
    this.server = http.createServer((req, res) => this.onRequest(req, res));
  }

  async listen(): Promise<AddressInfo> {
    const addr = await listenHttp(this.server, this.opts.host, this.opts.port, 'FELIX_HEALTHHOST and FELIX_HEALTHPORT');
    this.log.info({ host: addr.address, port: addr.port }, 'health server listening');
    return addr;
  }

  close(): Promise<void> {
    return closeHttp(this.server);
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendJson(res, 405, { error: 'method not allowed' });
      return;
    }
    const head = req.method === 'HEAD';
    const s = this.opts.aggregator.summary();
    this.log.debug({ path, live: s.live, ready: s.ready }, 'health probe');
    const components = s.components;
    switch (path) {
      case '/liveness':
        sendJson(res, s.live ? 200 : 503, { live: s.live, ...(s.live ? {} : { reason: s.liveReason }), components }, head);
        return;
      case '/readiness':
        sendJson(res, s.ready ? 200 : 503, { ready: s.ready, ...(s.ready ? {} : { reason: s.readyReason }), components }, head);
        return;
      case '/health':
        sendJson(res, s.live && s.ready ? 200 : 503, s, head);
        return;
      default:
        sendJson(res, 404, { error: `not found; try ${HEALTH_PATHS.join(', ')}` }, head);
    }
  }
}

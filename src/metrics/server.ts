/**
 * Serves a registry at `/metrics` on FELIX_PROMETHEUSMETRICSHOST:FELIX_PROMETHEUSMETRICSPORT,
 * only when FELIX_PROMETHEUSMETRICSENABLED is true (the agent decides; this class just serves).
 * `tortie bgp-speaker` serves its registry with the same class, configured from its YAML file.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import { closeHttp, listenHttp, sendJson } from '../health/http.js';

export class MetricsServer {
  private readonly server: http.Server;
  private readonly log: Logger;

  constructor(
    private readonly opts: {
      registry: Registry;
      host: string;
      port: number;
      logger: Logger;
      /** The settings a listen error tells the user to check; default the agent's FELIX_* ones. */
      settingsHint?: string;
    },
  ) {
    this.log = opts.logger.child({ component: 'metrics-server' });
    this.server = http.createServer((req, res) => {
      void this.onRequest(req, res);
    });
  }

  async listen(): Promise<AddressInfo> {
    const addr = await listenHttp(this.server, this.opts.host, this.opts.port, this.opts.settingsHint ?? 'FELIX_PROMETHEUSMETRICSHOST and FELIX_PROMETHEUSMETRICSPORT');
    this.log.info({ host: addr.address, port: addr.port }, 'metrics server listening');
    return addr;
  }

  close(): Promise<void> {
    return closeHttp(this.server);
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      sendJson(res, 404, { error: 'not found; metrics are at /metrics' });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendJson(res, 405, { error: 'method not allowed' });
      return;
    }
    try {
      const text = await this.opts.registry.metrics();
      res.writeHead(200, { 'content-type': this.opts.registry.contentType, 'content-length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
    } catch (e) {
      // A collector threw: a bug in whichever component owns it. Answer 500 so the scrape shows
      // as failed instead of silently missing series, and keep serving.
      this.log.error({ err: e }, 'collecting metrics failed');
      sendJson(res, 500, { error: `collecting metrics failed: ${errorMessage(e)}` });
    }
  }
}

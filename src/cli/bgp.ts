/**
 * `tortie bgp-speaker --config speaker.yaml`: the BGP speaker on its own, without the agent.
 * Useful as a route reflector, for tests against BIRD/GoBGP, and to run the speaker where
 * Calico's BIRD would run. SIGHUP reloads the file (peers diffed, unchanged sessions untouched);
 * SIGTERM stops with graceful restart when any peer has it configured (peers keep our routes,
 * RFC 4724) and SIGINT stops with Cease (peers withdraw our routes).
 */
import type { Command } from 'commander';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createLogger, type Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import { loadSpeakerConfig, type SpeakerConfig, type AnnounceConfig } from '../bgp/config.js';
import { BgpSpeaker } from '../bgp/speaker.js';
import { ControlServer } from '../agent/control.js';
import { MetricsServer } from '../metrics/server.js';

export function register(program: Command): void {
  program
    .command('bgp-speaker')
    .description('Run the BGP speaker alone, configured by a YAML file (see docs/bgp.md)')
    .requiredOption('-c, --config <file>', 'speaker.yaml')
    .option('--log-level <level>', 'Debug, Info, Warning, Error')
    .option('--check', 'validate the configuration and exit')
    .action(async (o: { config: string; logLevel?: string; check?: boolean }) => {
      const cfg = loadSpeakerConfig(o.config);
      if (o.check) {
        process.stdout.write(`${o.config}: OK (${cfg.peers.length} peers, ${cfg.announce.length} prefixes)\n`);
        return;
      }
      await runSpeaker(o.config, cfg, createLogger({ level: o.logLevel ?? cfg.logLevel ?? 'info', name: 'tortie-bgp' }));
    });
}

function announceKey(a: AnnounceConfig): string {
  return JSON.stringify([a.nextHop ?? null, a.communities ?? [], a.largeCommunities ?? []]);
}

function applyAnnounces(speaker: BgpSpeaker, prev: AnnounceConfig[], next: AnnounceConfig[]): void {
  const before = new Map(prev.map((a) => [a.prefix, a]));
  const after = new Map(next.map((a) => [a.prefix, a]));
  for (const p of before.keys()) if (!after.has(p)) speaker.withdraw(p);
  for (const [p, a] of after) {
    const old = before.get(p);
    if (old && announceKey(old) === announceKey(a)) continue;
    speaker.announce(p, {
      ...(a.nextHop ? { nextHop: a.nextHop } : {}),
      ...(a.communities ? { communities: a.communities } : {}),
      ...(a.largeCommunities ? { largeCommunities: a.largeCommunities } : {}),
    });
  }
}

export async function runSpeaker(path: string, cfg: SpeakerConfig, log: Logger): Promise<void> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const speaker = new BgpSpeaker({
    routerId: cfg.routerId,
    asNumber: cfg.asNumber,
    listen: cfg.listen,
    ...(cfg.clusterId ? { clusterId: cfg.clusterId } : {}),
    ...(cfg.restartStateFile ? { restartStateFile: cfg.restartStateFile } : {}),
    ...(cfg.selectionDeferralTime !== undefined ? { selectionDeferralTime: cfg.selectionDeferralTime } : {}),
    logger: log,
    registry,
  });
  for (const p of cfg.peers) speaker.addPeer(p);
  applyAnnounces(speaker, [], cfg.announce);
  let metricsServer: MetricsServer | undefined;
  if (cfg.metrics) {
    metricsServer = new MetricsServer({ registry, host: cfg.metrics.address, port: cfg.metrics.port, logger: log, settingsHint: `metrics.address and metrics.port in ${path}` });
    await metricsServer.listen();
  }
  let control: ControlServer | undefined;
  if (cfg.controlSocket) {
    control = new ControlServer({ path: cfg.controlSocket, logger: log });
    speaker.registerControl(control);
    await control.listen();
  }
  await speaker.start();
  log.info({ routerId: cfg.routerId, asNumber: cfg.asNumber, peers: cfg.peers.length }, 'BGP speaker running');

  let current = cfg;
  const reload = (): void => {
    let next: SpeakerConfig;
    try {
      next = loadSpeakerConfig(path);
    } catch (e) {
      log.error(`reload of ${path} failed, keeping the running configuration: ${errorMessage(e)}`);
      return;
    }
    for (const f of ['routerId', 'asNumber', 'listen', 'clusterId', 'controlSocket', 'metrics'] as const) {
      if (JSON.stringify(next[f]) !== JSON.stringify(current[f])) {
        log.error(`reload: ${f} changed; that needs a restart of the speaker. Other changes are applied.`);
        next = { ...next, [f]: current[f] };
      }
    }
    const oldPeers = new Map(current.peers.map((p) => [p.address, p]));
    const newPeers = new Map(next.peers.map((p) => [p.address, p]));
    try {
      for (const a of oldPeers.keys()) if (!newPeers.has(a)) speaker.removePeer(a);
      for (const [a, p] of newPeers) {
        if (!oldPeers.has(a)) speaker.addPeer(p);
        else speaker.updatePeer(p);
      }
      applyAnnounces(speaker, current.announce, next.announce);
      current = next;
      log.info({ peers: next.peers.length, prefixes: next.announce.length }, `reloaded ${path}`);
    } catch (e) {
      log.error(`reload of ${path} partly failed: ${errorMessage(e)}`);
    }
  };

  await new Promise<void>((resolve) => {
    const shutdown = (graceful: boolean): void => {
      process.off('SIGHUP', reload);
      log.info({ gracefulRestart: graceful }, graceful ? 'stopping with graceful restart: peers keep our routes' : 'stopping: peers are told with Cease');
      void (async () => {
        await speaker.stop({ gracefulRestart: graceful });
        await control?.close();
        await metricsServer?.close();
        resolve();
      })();
    };
    process.on('SIGHUP', reload);
    process.once('SIGTERM', () => shutdown(current.peers.some((p) => p.gracefulRestart)));
    process.once('SIGINT', () => shutdown(false));
  });
  // Closing sockets flush their NOTIFICATION (bounded by the connection's flush timeout); after
  // that the command is done even if some handle lingers.
  setTimeout(() => process.exit(process.exitCode ?? 0), 2_500).unref();
}

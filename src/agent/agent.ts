/**
 * The agent process's composition root: owns the process-wide services (control socket, health
 * aggregator and server, metrics registry and server), starts the components in order and stops
 * them in reverse.
 *
 * Shutdown promise: stopping the agent never touches the dataplane. Routes, tunnel devices,
 * neighbours, sysctls and (later) iptables/ipsets stay exactly as programmed, so a restart or an
 * upgrade does not disrupt pod traffic; the next agent reads the kernel and adopts what it finds.
 * Components are held to the same rule (AgentComponent.stop).
 */
import { Counter, type Registry } from 'prom-client';
import type { LoadedConfig } from '../config/load.js';
import { redactConfig } from '../config/load.js';
import type { AgentConfig } from '../config/schema.js';
import { HealthAggregator, type Clock, type HealthReporter, systemClock } from '../health/aggregator.js';
import { HealthServer } from '../health/server.js';
import { createMetricsRegistry } from '../metrics/registry.js';
import { MetricsServer } from '../metrics/server.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { AgentComponent, AgentContext } from './component.js';
import { ControlServer } from './control.js';

/** How long one component may take to stop before the agent moves on to the next. */
export const COMPONENT_STOP_TIMEOUT_MS = 5_000;

/**
 * How often the agent's own liveness heartbeat fires, and how stale it may get. If the event loop
 * is blocked for longer than the timeout, the heartbeat misses and /liveness fails; 30 s is what
 * Felix gives its calculation graph (calico-reference.md).
 */
export const HEARTBEAT_INTERVAL_MS = 5_000;
export const HEARTBEAT_TIMEOUT_MS = 30_000;

export interface AgentOptions {
  config: LoadedConfig;
  logger: Logger;
  components: AgentComponent[];
  /** Defaults to a fresh registry with process metrics. */
  registry?: Registry;
  clock?: Clock;
  /** Overrides COMPONENT_STOP_TIMEOUT_MS (tests). */
  componentStopTimeoutMs?: number;
}

type AgentState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

export class Agent {
  readonly config: AgentConfig;
  readonly registry: Registry;
  readonly health: HealthAggregator;
  readonly control: ControlServer;
  private readonly loaded: LoadedConfig;
  private readonly log: Logger;
  /** Parent of every component's logger; children of `log` would carry `component` twice. */
  private readonly rootLog: Logger;
  private readonly components: AgentComponent[];
  private readonly started: AgentComponent[] = [];
  private readonly abort = new AbortController();
  private healthServer: HealthServer | undefined;
  private metricsServer: MetricsServer | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private state: AgentState = 'new';
  private stopping: Promise<void> | undefined;
  private onShutdownRequested!: (reason: string) => void;
  /** Resolves with the reason once requestShutdown() is called (a signal, usually). */
  readonly shutdownRequested: Promise<string> = new Promise((resolve) => (this.onShutdownRequested = resolve));
  private readonly startedAt = Date.now();
  private readonly stopTimeoutMs: number;
  /** Errors that escaped every handler; see run.ts for why they are counted and not fatal. */
  readonly unhandledErrors: Counter<'kind'>;

  constructor(opts: AgentOptions) {
    this.loaded = opts.config;
    this.config = opts.config.config;
    this.rootLog = opts.logger;
    this.log = opts.logger.child({ component: 'agent' });
    this.components = opts.components;
    this.stopTimeoutMs = opts.componentStopTimeoutMs ?? COMPONENT_STOP_TIMEOUT_MS;
    const names = new Set<string>();
    for (const c of this.components) {
      if (names.has(c.name)) throw new Error(`two components are named ${c.name}`);
      names.add(c.name);
    }
    this.registry = opts.registry ?? createMetricsRegistry();
    this.health = new HealthAggregator({ clock: opts.clock ?? systemClock, logger: opts.logger });
    this.control = new ControlServer({ path: this.config.controlSocket, logger: opts.logger });
    this.unhandledErrors = new Counter({
      name: 'tortie_unhandled_errors_total',
      help: 'Errors no component handled (unhandled promise rejections). Each one is a bug; the log has its stack.',
      labelNames: ['kind'],
      registers: [this.registry],
    });
    this.registerControlMethods();
  }

  /**
   * Starts the services and then each component in order. If anything fails, what was started
   * is stopped again (in reverse) and the error is rethrown for the CLI to report.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`agent cannot start from state ${this.state}`);
    this.state = 'starting';
    this.log.info({ nodename: this.config.nodename, components: this.components.map((c) => c.name) }, 'agent starting');
    try {
      this.startHeartbeat();
      // The control socket first: it also refuses to start a second agent on this node, before
      // anything else could fight over the kernel.
      await this.control.listen();
      if (this.config.healthEnabled) {
        this.healthServer = new HealthServer({
          aggregator: this.health,
          host: this.config.healthHost,
          port: this.config.healthPort,
          logger: this.rootLog,
        });
        await this.healthServer.listen();
      }
      if (this.config.prometheusMetricsEnabled) {
        this.metricsServer = new MetricsServer({
          registry: this.registry,
          host: this.config.prometheusMetricsHost,
          port: this.config.prometheusMetricsPort,
          logger: this.rootLog,
        });
        await this.metricsServer.listen();
      }
      for (const c of this.components) {
        if (this.abort.signal.aborted) break;
        const ctx = this.contextFor(c);
        ctx.logger.info('starting component');
        await c.start(ctx);
        this.started.push(c);
      }
    } catch (e) {
      this.log.error({ err: e }, 'agent failed to start; stopping what was started');
      await this.stop('start failed');
      throw e;
    }
    if (this.state === 'starting') {
      this.state = 'running';
      this.log.info('agent running');
    }
  }

  /**
   * Asks the agent to shut down: aborts the components' signal (so a component still starting can
   * give up early, and no further component is started) and resolves `shutdownRequested`. The
   * caller then awaits start() and calls stop(), so stop never races a start in progress.
   */
  requestShutdown(reason: string): void {
    if (!this.abort.signal.aborted) this.abort.abort(new Error(reason));
    this.onShutdownRequested(reason);
  }

  /**
   * Stops components in reverse order, then the servers. Idempotent: a second call returns the
   * first call's promise. Never touches the dataplane (see the module comment).
   */
  stop(reason = 'requested'): Promise<void> {
    this.stopping ??= this.doStop(reason);
    return this.stopping;
  }

  private async doStop(reason: string): Promise<void> {
    this.state = 'stopping';
    this.log.info({ reason }, 'agent stopping; the dataplane is left as programmed');
    if (!this.abort.signal.aborted) this.abort.abort(new Error(reason));
    for (const c of [...this.started].reverse()) {
      const t0 = Date.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          c.stop(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`did not stop within ${this.stopTimeoutMs} ms`)), this.stopTimeoutMs);
          }),
        ]);
        this.rootLog.info({ component: c.name, ms: Date.now() - t0 }, 'component stopped');
      } catch (e) {
        // Keep going: one stuck component must not keep the others (and the sockets) open.
        this.rootLog.error({ component: c.name, err: e }, 'component did not stop cleanly');
      } finally {
        clearTimeout(timer);
      }
    }
    this.started.length = 0;
    if (this.heartbeat) clearInterval(this.heartbeat);
    const closing: Promise<void>[] = [this.control.close()];
    if (this.healthServer) closing.push(this.healthServer.close());
    if (this.metricsServer) closing.push(this.metricsServer.close());
    for (const r of await Promise.allSettled(closing)) {
      if (r.status === 'rejected') this.log.error({ err: r.reason }, 'closing a server failed');
    }
    this.state = 'stopped';
    this.log.info('agent stopped');
  }

  private contextFor(c: AgentComponent): AgentContext {
    return {
      config: this.config,
      logger: this.rootLog.child({ component: c.name }),
      registry: this.registry,
      health: this.health,
      control: this.control,
      signal: this.abort.signal,
    };
  }

  /**
   * The agent's own liveness: a timer that reports every few seconds. If the event loop stalls
   * the report goes stale and /liveness turns 503, which is what a kubelet should restart.
   */
  private startHeartbeat(): void {
    const reporter: HealthReporter = this.health.register({ name: 'agent', live: true, ready: false, timeoutMs: HEARTBEAT_TIMEOUT_MS });
    const beat = (): void => reporter.report({ live: true, ready: false, detail: 'event loop running' });
    beat();
    this.heartbeat = setInterval(beat, HEARTBEAT_INTERVAL_MS);
    // The servers keep the process alive; the heartbeat alone must not.
    this.heartbeat.unref();
  }

  private registerControlMethods(): void {
    this.control.handle('agent.health', () => this.health.summary());
    this.control.handle('agent.config', () => ({ settings: redactConfig(this.loaded), warnings: this.loaded.warnings }));
    this.control.handle('agent.info', () => ({
      nodename: this.config.nodename,
      pid: process.pid,
      state: this.state,
      startedAt: new Date(this.startedAt).toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      node: process.version,
      components: this.components.map((c) => ({ name: c.name, started: this.started.includes(c) })),
    }));
  }

  /** For run.ts: count and log an error nothing else handled. */
  recordUnhandled(kind: 'rejection', err: unknown): void {
    this.unhandledErrors.inc({ kind });
    this.log.error({ err, kind }, `unhandled ${kind}: this is a bug in tortie; the agent keeps running (${errorMessage(err)})`);
  }
}

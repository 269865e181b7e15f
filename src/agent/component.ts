/**
 * The contract between the agent process and the parts it runs (datastore syncer, calculation,
 * dataplane, BGP speaker). The agent owns process-wide things (configuration, logger, metrics
 * registry, health aggregator, control socket) and hands them to each component in its start
 * context; components are started in the order they are listed and stopped in reverse.
 *
 * Components talk to each other through constructor arguments set up in one place
 * (components.ts), not through the context: the context is only what every component needs.
 */
import type { Registry } from 'prom-client';
import type { AgentConfig } from '../config/schema.js';
import type { HealthAggregator } from '../health/aggregator.js';
import type { Logger } from '../util/log.js';
import type { ControlServer } from './control.js';

export interface AgentContext {
  readonly config: AgentConfig;
  /** A child logger with `component` set to the component's name. */
  readonly logger: Logger;
  /** Register metrics here (`registers: [ctx.registry]`), never on prom-client's global registry. */
  readonly registry: Registry;
  /** Register a reporter under the component's name; readiness reporters gate the agent's readiness. */
  readonly health: HealthAggregator;
  /** Register control methods as `<component>.<verb>` (`bgp.peers`), for `tortie status` and friends. */
  readonly control: ControlServer;
  /** Aborted when the agent begins shutting down; long waits in start() should listen to it. */
  readonly signal: AbortSignal;
}

export interface AgentComponent {
  readonly name: string;
  /**
   * Starts the component and resolves once it is running, which is not the same as ready: a
   * datastore that is unreachable is retried in the background and reported through health, not
   * by blocking or rejecting here. Reject only for what retrying cannot fix (a port that is taken,
   * an invalid setting); the agent then stops what it started and exits non-zero with the message.
   * Errors after start are the component's to handle: log, count in a metric, report health, retry.
   */
  start(ctx: AgentContext): Promise<void>;
  /**
   * Releases what the process holds: sockets, watches, timers, child processes. It must NOT
   * remove routes, links, addresses, neighbours, ipsets or iptables rules it programmed: a
   * restarting agent must not disrupt traffic, and the next agent adopts what it finds.
   * Must resolve within COMPONENT_STOP_TIMEOUT_MS (agent.ts); the agent moves on after that.
   */
  stop(): Promise<void>;
}

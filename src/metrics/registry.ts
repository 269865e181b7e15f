/**
 * The agent's Prometheus registry. One registry is created by the agent and handed to each
 * component through its start context, rather than prom-client's global `register`: tests can
 * build a fresh registry per case, and two agents in one process (tests, the lab) do not collide
 * on metric names.
 *
 * Components create their metrics against the registry they are given:
 *   new Counter({ name: 'felix_int_dataplane_failures', help: '...', registers: [ctx.registry] })
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

export type { Registry };

/** A registry with Node's process metrics (process_cpu_seconds_total, process_resident_memory_bytes, nodejs_*). */
export function createMetricsRegistry(opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * The metric already registered under `name`, or a new one from `make`: for metrics that several
 * instances share on one registry (the IPv4 and IPv6 reconcilers, say), created by whichever
 * instance comes first.
 */
export function sharedMetric<M>(registry: Registry, name: string, make: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make();
}

/**
 * Felix's IP set metrics (felix/ipsets/ipsets_prom.go), same names, help and labels.
 *
 * The IPv4 and IPv6 reconcilers share one registry, so creating the metrics twice must hand back
 * the ones already registered (prom-client throws on a second registration of a name). Sharing
 * works out without a collector: the two counters are simply incremented by both; the Calico set
 * gauge carries Felix's `ip_version` label (`inet` / `inet6`), one series per reconciler, and a
 * sum over the label is the total of Calico sets; the all-sets gauge is read from an `ipset save`
 * of the whole namespace, which both families see alike, so whichever resynced last is right.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { sharedMetric } from '../../metrics/registry.js';

export interface IpSetsMetrics {
  calls: Counter;
  errors: Counter;
  /** Calico sets desired, labelled `ip_version` = `inet` | `inet6` as in Felix. */
  calico: Gauge<'ip_version'>;
  total: Gauge;
}


export function createIpSetsMetrics(registry: Registry): IpSetsMetrics {
  const registers = [registry];
  return {
    calls: sharedMetric(registry, 'felix_ipset_calls', () => new Counter({ name: 'felix_ipset_calls', help: 'Number of ipset commands executed.', registers })),
    errors: sharedMetric(registry, 'felix_ipset_errors', () => new Counter({ name: 'felix_ipset_errors', help: 'Number of ipset command failures.', registers })),
    calico: sharedMetric(registry, 'felix_ipsets_calico', () => new Gauge({ name: 'felix_ipsets_calico', help: 'Number of active Calico IP sets.', labelNames: ['ip_version'], registers })),
    total: sharedMetric(registry, 'felix_ipsets_total', () => new Gauge({ name: 'felix_ipsets_total', help: 'Total number of active IP sets.', registers })),
  };
}

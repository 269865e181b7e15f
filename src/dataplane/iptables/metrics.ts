/**
 * The iptables metrics, under Felix's names and labels (felix/iptables/table.go and lock.go):
 * call and error counters without labels, chain and rule gauges per `ip_version` and `table`,
 * lines executed per `ip_version` and `table`, and the xtables lock's acquisition time and
 * retries (`version` label: "1.6" for the /run/xtables.lock file lock, the only kind iptables 1.8
 * uses). Every table of the process shares one set, so creation is idempotent per registry.
 *
 * What the lock metrics measure in tortie: iptables-restore waits for the lock itself, silently,
 * so tortie takes the lock for it (legacy backend only; iptables-nft has no lock). `flock`
 * holds the xtables lock file while iptables-restore runs and reports how long getting it took;
 * that wait is `felix_iptables_lock_acquire_secs`. flock waits in the kernel rather than
 * polling, so there is no probe count: `felix_iptables_lock_retries` counts the restores that
 * found the lock held (waited longer than an uncontended lock ever takes).
 */
import { Counter, Gauge, Registry, Summary } from 'prom-client';
import { sharedMetric } from '../../metrics/registry.js';

export interface IptablesMetrics {
  restoreCalls: Counter;
  restoreErrors: Counter;
  saveCalls: Counter;
  saveErrors: Counter;
  chains: Gauge<'ip_version' | 'table'>;
  rules: Gauge<'ip_version' | 'table'>;
  linesExecuted: Counter<'ip_version' | 'table'>;
  lockAcquireSecs: Summary;
  lockRetries: Counter<'version'>;
}


export function createIptablesMetrics(registry: Registry): IptablesMetrics {
  const registers = [registry];
  return {
    restoreCalls: sharedMetric(registry, 'felix_iptables_restore_calls', () => new Counter({ name: 'felix_iptables_restore_calls', help: 'Number of iptables-restore calls.', registers })),
    restoreErrors: sharedMetric(registry, 'felix_iptables_restore_errors', () => new Counter({ name: 'felix_iptables_restore_errors', help: 'Number of iptables-restore errors.', registers })),
    saveCalls: sharedMetric(registry, 'felix_iptables_save_calls', () => new Counter({ name: 'felix_iptables_save_calls', help: 'Number of iptables-save calls.', registers })),
    saveErrors: sharedMetric(registry, 'felix_iptables_save_errors', () => new Counter({ name: 'felix_iptables_save_errors', help: 'Number of iptables-save errors.', registers })),
    chains: sharedMetric(
      registry,
      'felix_iptables_chains',
      () => new Gauge({ name: 'felix_iptables_chains', help: 'Number of active iptables chains.', labelNames: ['ip_version', 'table'], registers }),
    ),
    rules: sharedMetric(registry, 'felix_iptables_rules', () => new Gauge({ name: 'felix_iptables_rules', help: 'Number of active iptables rules.', labelNames: ['ip_version', 'table'], registers })),
    linesExecuted: sharedMetric(
      registry,
      'felix_iptables_lines_executed',
      () => new Counter({ name: 'felix_iptables_lines_executed', help: 'Number of iptables rule updates executed.', labelNames: ['ip_version', 'table'], registers }),
    ),
    lockAcquireSecs: sharedMetric(
      registry,
      'felix_iptables_lock_acquire_secs',
      () => new Summary({ name: 'felix_iptables_lock_acquire_secs', help: 'Time in seconds that it took to acquire the iptables lock(s).', registers }),
    ),
    lockRetries: sharedMetric(
      registry,
      'felix_iptables_lock_retries',
      () => new Counter({ name: 'felix_iptables_lock_retries', help: 'Number of times the iptables lock was held by someone else and we had to retry.', labelNames: ['version'], registers }),
    ),
  };
}

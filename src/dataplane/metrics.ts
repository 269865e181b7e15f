/**
 * The dataplane's Prometheus metrics, registered on a Registry the agent passes in (one registry
 * per process, no global default). Felix names where Felix has the metric; tortie_* for ours.
 */
import { Counter, Gauge, Registry, Summary } from 'prom-client';

export interface DataplaneMetrics {
  applyTime: Summary;
  failures: Counter;
  routeListTime: Summary;
  routesProgrammed: Gauge<'class'>;
  repairs: Counter<'kind'>;
  ipipAvailable: Gauge;
  invalidUpdates: Counter<'kind'>;
}

export function createDataplaneMetrics(registry: Registry): DataplaneMetrics {
  const registers = [registry];
  return {
    applyTime: new Summary({ name: 'felix_int_dataplane_apply_time_seconds', help: 'Time in seconds for each incremental update to the dataplane.', registers }),
    failures: new Counter({ name: 'felix_int_dataplane_failures', help: 'Number of times dataplane updates failed and will be retried.', registers }),
    routeListTime: new Summary({ name: 'felix_route_table_list_seconds', help: 'Time taken to list all the routes during a resync.', registers }),
    routesProgrammed: new Gauge({ name: 'tortie_routes_programmed', help: 'Desired routes the kernel holds, by route class.', labelNames: ['class'], registers }),
    repairs: new Counter({ name: 'tortie_dataplane_repairs_total', help: 'Kernel state found changed behind our back and repaired, by kind (route, link, neigh, fdb, sysctl).', labelNames: ['kind'], registers }),
    invalidUpdates: new Counter({ name: 'tortie_dataplane_invalid_updates_total', help: 'Desired-state updates refused as invalid (bad CIDR, unowned table, ...), by kind.', labelNames: ['kind'], registers }),
    ipipAvailable: new Gauge({ name: 'tortie_ipip_available', help: '1 if the kernel can create the tunl0 ipip device, 0 if not (no ipip module), -1 until tunl0 is wanted.', registers }),
  };
}


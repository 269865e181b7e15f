/**
 * The event sequencer (Felix's `event_sequencer.go`): one round's messages from every calculator,
 * delivered in the order the dataplane depends on. IP sets exist before the rules that match on
 * them, devices and VTEPs before the routes through them, rules before the endpoints that jump to
 * them; removals go in reverse (endpoints, then rules, then VTEPs, then IP sets). Within a class,
 * messages keep the order their calculator emitted them.
 */
import type { CalcMessage } from './calculator.js';

const ORDER: Readonly<Record<CalcMessage['type'], number>> = {
  'ipset-update': 0,
  'ipset-delta': 0,
  'vxlan-device': 1,
  'ipip-device': 1,
  'vtep-update': 2,
  'profile-update': 3,
  'policy-update': 3,
  'workload-endpoint-update': 4,
  'host-endpoint-update': 4,
  'route-update': 5,
  'route-remove': 5,
  'workload-endpoint-remove': 6,
  'host-endpoint-remove': 6,
  'policy-remove': 7,
  'profile-remove': 7,
  'vtep-remove': 8,
  'ipset-remove': 9,
  'desired-bgp': 10,
};
const CLASSES = 11;

export class EventSequencer {
  private buckets: CalcMessage[][] = Array.from({ length: CLASSES }, () => []);
  private count = 0;

  readonly emit = (m: CalcMessage): void => {
    this.buckets[ORDER[m.type]]!.push(m);
    this.count++;
  };

  get pending(): number {
    return this.count;
  }

  /** Hands out this round's messages in dependency order and starts a new round. */
  drain(): CalcMessage[][] {
    const out = this.buckets.filter((b) => b.length > 0);
    this.buckets = Array.from({ length: CLASSES }, () => []);
    this.count = 0;
    return out;
  }
}

/**
 * The one place where the agent's components are chosen and wired together. Data flows one way
 * (see STYLE.md), and this list is in that order, so starting in order and stopping in reverse
 * is right:
 *
 *   node (address, Node resource, pool, tunnel address)
 *     │
 *   datastore ──► calc ──► dataplane (routes, links, neighbours; later ipsets, iptables)
 *       │          │ ▲
 *       │          ▼ │ best paths (through StaleBgpRoutes: kept until BGP re-converged)
 *       └──────►  bgp (speaker: peers and exports from DesiredBgp)
 */
import type { AgentConfig } from '../config/schema.js';
import type { AgentComponent } from './component.js';
import { BgpComponent } from './bgp-component.js';
import { DatastoreComponent } from './datastore-component.js';
import { NodeComponent } from './node-component.js';
import { RoutingComponent } from './routing-component.js';

export function buildComponents(config: AgentConfig): AgentComponent[] {
  const node = new NodeComponent(config);
  const datastore = new DatastoreComponent(config);
  const bgp = config.networkingBackend === 'bird' ? new BgpComponent(config, datastore, config.bgpGracefulRestart) : undefined;
  const routing = new RoutingComponent(config, datastore, node, bgp, { onInSync: () => bgp?.datastoreInSync() });
  if (bgp) {
    bgp.onBest = (changes) => routing.stale.onBest(changes);
    bgp.onConverged = (reason) => routing.stale.sweep(reason);
    bgp.kernelStatePreserved = () => routing.hadKernelState;
  }
  const components: AgentComponent[] = [node, datastore, routing];
  if (bgp) components.push(bgp);
  return components;
}

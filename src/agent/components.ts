/**
 * The one place where the agent's components are chosen and wired together. Data flows one way
 * (see STYLE.md), and this list is in that order, so starting in order and stopping in reverse
 * is right:
 *
 *   datastore ──► calc ──► dataplane (routes, links, neighbours; later ipsets, iptables)
 *       │                      ▲
 *       └──────► bgp ──────────┘   (BGP best paths are one route class of the route reconciler)
 *
 * To plug a component in: construct it here with what it consumes (e.g. the dataplane takes the
 * datastore's syncer), push it in flow order, and delete its placeholder.
 */
import type { AgentConfig } from '../config/schema.js';
import type { AgentComponent } from './component.js';
import { PlaceholderComponent } from './placeholder.js';

export function buildComponents(config: AgentConfig): AgentComponent[] {
  const components: AgentComponent[] = [];

  components.push(new PlaceholderComponent('datastore', 'not connected (no datastore component configured yet)'));
  components.push(new PlaceholderComponent('dataplane', 'not programmed (no dataplane component configured yet)'));
  if (config.networkingBackend === 'bird') {
    components.push(new PlaceholderComponent('bgp', 'not running (no BGP speaker configured yet)'));
  }
  return components;
}

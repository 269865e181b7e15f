/**
 * What the calc graph is made of: small calculators, each reading some topics of the cluster
 * state and emitting typed messages (tortie's `felix/proto`, in `src/proto/`). The graph runs them
 * in a fixed order after every batch, each only when a topic it reads changed, and delivers what
 * they emitted through the event sequencer (sequencer.ts) in the order the dataplane needs.
 *
 * A calculator is pure apart from its own memory of what it emitted: no I/O, no timers.
 */
import type { Update } from '../datastore/syncer.js';
import type { PolicyMessage } from '../proto/policy.js';
import type { RoutingMessage } from '../proto/routing.js';
import type { BgpUnavailable, DesiredBgp } from './bgp.js';
import type { ClusterState } from './cluster.js';

/** Topics a batch can touch. `bgp-best` comes from the speaker, `policy` from the policy kinds. */
export type Topic = 'pools' | 'nodes' | 'blocks' | 'affinities' | 'bgpConfig' | 'bgpPeers' | 'localEndpoints' | 'bgpBest' | 'policy';

export interface Changes {
  readonly topics: ReadonlySet<Topic>;
  /** Keys of this node's workload endpoints that changed. */
  readonly localEndpoints: ReadonlySet<string>;
  /** BGP prefixes whose best path changed. */
  readonly bgpBest: ReadonlySet<string>;
  /** The syncer updates of this round (policy calculators consume them directly). */
  readonly batch: readonly Update[];
}

/** The speaker's desired peers and exports. */
export type BgpMessage = { readonly type: 'desired-bgp'; readonly bgp: DesiredBgp | BgpUnavailable };

export type CalcMessage = RoutingMessage | PolicyMessage | BgpMessage;

export interface Calculator {
  readonly name: string;
  /** Runs when any of these changed; `'always'` runs every round (cheap when idle). */
  readonly reads: readonly Topic[] | 'always';
  recompute(state: ClusterState, changes: Changes, emit: (m: CalcMessage) => void): void;
}

/** The topics every routing-topology calculator reads. */
export const TOPOLOGY: readonly Topic[] = ['pools', 'nodes', 'blocks', 'affinities'];

export function reads(c: Calculator, changes: Changes): boolean {
  if (c.reads === 'always') return true;
  for (const t of c.reads) if (changes.topics.has(t)) return true;
  return false;
}

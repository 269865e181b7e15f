/**
 * The policy calculator in the graph's list: hands the round's policy-relevant updates to the
 * PolicyCalculator and emits what its flush returns.
 */
import type { Calculator, Changes } from '../calculator.js';
import type { ClusterState } from '../cluster.js';
import { PolicyCalculator, type PolicyCalcOptions } from './policy-calc.js';

/** Kinds the policy side consumes. */
export const POLICY_KINDS: ReadonlySet<string> = new Set([
  'NetworkPolicy',
  'GlobalNetworkPolicy',
  'KubernetesNetworkPolicy',
  'Profile',
  'Tier',
  'NetworkSet',
  'GlobalNetworkSet',
  'WorkloadEndpoint',
  'HostEndpoint',
]);

export class PolicyCalc implements Calculator {
  readonly name = 'policy';
  readonly reads = ['policy'] as const;
  readonly policy: PolicyCalculator;

  constructor(opts: PolicyCalcOptions) {
    this.policy = new PolicyCalculator(opts);
  }

  recompute(_s: ClusterState, c: Changes, emit: Parameters<Calculator['recompute']>[2]): void {
    this.policy.apply(c.batch.filter((u) => POLICY_KINDS.has(u.kind)));
    for (const m of this.policy.flush()) emit(m);
  }
}

/**
 * Policy ordering (Felix's `policy_sorter.go`): tiers by order then name, policies within a tier
 * by order then name, a missing order after every ordered one. The `default` tier exists even
 * without a Tier resource, with Calico's default order (1,000,000 since Calico 3.30, so tiers
 * without an order still sort after it, and tiers with a smaller order before it).
 */
import type { PolicyId, TierInfo } from '../../proto/policy.js';
import { DEFAULT_TIER, policyTypes, type BackendPolicy } from './model.js';

/** Order Calico gives the `default` tier (api: `DefaultTierOrder`). */
export const DEFAULT_TIER_ORDER = 1_000_000;

export interface TierSpec {
  readonly order?: number;
  readonly defaultAction: 'Deny' | 'Pass';
}

const orderOf = (o: number | undefined): number => (o === undefined ? Infinity : o);

/** Name used for the tie-break: namespaced policies as `<ns>/<name>` (Felix's v1 policy key). */
export function sortName(id: PolicyId): string {
  return id.namespace ? `${id.namespace}/${id.name}` : id.name;
}

export function comparePolicies(a: BackendPolicy, b: BackendPolicy): number {
  const d = orderOf(a.order) - orderOf(b.order);
  if (d !== 0 && !Number.isNaN(d)) return d;
  const an = sortName(a.id), bn = sortName(b.id);
  return an < bn ? -1 : an > bn ? 1 : 0;
}

export class TierTable {
  private readonly tiers = new Map<string, TierSpec>();

  set(name: string, spec: TierSpec | undefined): void {
    if (spec) this.tiers.set(name, spec);
    else this.tiers.delete(name);
  }

  /** Tiers that exist as resources (felix_cluster_num_tiers counts these, `default` included once). */
  get count(): number {
    return this.tiers.has(DEFAULT_TIER) ? this.tiers.size : this.tiers.size + 1;
  }

  spec(name: string): TierSpec {
    const t = this.tiers.get(name);
    if (t) return name === DEFAULT_TIER && t.order === undefined ? { ...t, order: DEFAULT_TIER_ORDER } : t;
    return name === DEFAULT_TIER ? { order: DEFAULT_TIER_ORDER, defaultAction: 'Deny' } : { defaultAction: 'Deny' };
  }

  compareTiers(a: string, b: string): number {
    const d = orderOf(this.spec(a).order) - orderOf(this.spec(b).order);
    if (d !== 0 && !Number.isNaN(d)) return d;
    return a < b ? -1 : a > b ? 1 : 0;
  }

  /**
   * The tiers for one endpoint from the policies that select it. `include` picks which policies
   * take part (workloads: normal policies; host endpoints: also doNotTrack / preDNAT groups).
   * Tiers with no policy for the endpoint are left out, as Felix does.
   */
  resolve(policies: Iterable<BackendPolicy>, include: (p: BackendPolicy) => boolean): TierInfo[] {
    const byTier = new Map<string, BackendPolicy[]>();
    for (const p of policies) {
      if (!include(p)) continue;
      let list = byTier.get(p.id.tier);
      if (!list) byTier.set(p.id.tier, (list = []));
      list.push(p);
    }
    const names = [...byTier.keys()].sort((a, b) => this.compareTiers(a, b));
    return names.map((name) => {
      const ps = byTier.get(name)!.sort(comparePolicies);
      return {
        name,
        ingressPolicies: ps.filter((p) => policyTypes(p).ingress).map((p) => p.id),
        egressPolicies: ps.filter((p) => policyTypes(p).egress).map((p) => p.id),
        defaultAction: this.spec(name).defaultAction,
      };
    });
  }
}

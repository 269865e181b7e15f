/**
 * The rule renderer: tortie's policy messages (src/proto/policy.ts) to Felix's iptables chains,
 * with Felix's chain names, rule order, comments and `cali:` rule hashes, so a tortie node's
 * `iptables-save` reads like a Calico node's and tortie can adopt a running Felix's chains in
 * place. It is pure: no I/O, only data and iptables-restore text; the reconcilers that diff
 * against the kernel and apply are elsewhere.
 *
 * Layout followed: Felix of the Calico v3.31/v3.32 line (felix/rules, felix/iptables,
 * felix/markbits as of 2025-26): PolicyID kind/namespace/name, MarkDrop, flow-log NFLOG rules,
 * tier default actions, "Start of tier" / "End of tier" comments, policy groups, trailing RETURN
 * stripped from policy chains. iptables mode only (no BPF, no nftables), no OpenStack special
 * cases, no QoS controls.
 *
 * `RuleRenderer` is the model-to-rules step behind which an nftables backend can sit later: its
 * methods take only the proto model and return that backend's chain type.
 */
import type { HostEndpointBody, IpVersion, PolicyBody, PolicyId, ProfileBody, TierInfo, WorkloadEndpointBody } from '../../proto/policy.js';
import { reachableChains, ruleTargets, type Chain } from './chain.js';
import { resolveConfig, type RenderConfig, type ResolvedConfig } from './config.js';
import { renderEndpointMarkDispatchChains, renderHostDispatchChains, renderWorkloadDispatchChains, type HostDispatchDirections } from './dispatch.js';
import {
  renderHostEndpointFilterChains,
  renderHostEndpointMangleEgressChains,
  renderHostEndpointMangleIngressChains,
  renderHostEndpointRawChains,
  renderPolicyGroupChains,
  renderWorkloadEndpointChains,
  type EndpointRenderContext,
} from './endpoint.js';
import type { EndpointMarkMapper } from './marks.js';
import { renderCidrBlockChain, renderFloatingIpChains, renderNatOutgoingChain, renderRpfSkipChain, type RpfSkipEntry } from './nat.js';
import { renderPolicyChains, renderProfileChains } from './policy.js';
import type { HookRules } from './restore.js';
import { renderStaticChains } from './static-tables.js';

/** A host endpoint's chains, per table. */
export interface HostEndpointTables<C> {
  readonly filter: C[];
  readonly mangle: C[];
  readonly raw: C[];
}

export interface StaticTables<C> {
  readonly filter: C[];
  readonly nat: C[];
  readonly mangle: C[];
  readonly raw: C[];
  readonly hooks: HookRules[];
}

/** Model to chains; one implementation per dataplane backend. */
export interface RuleRenderer<C = Chain> {
  policyChains(id: PolicyId, body: PolicyBody, ipVersion: IpVersion): C[];
  profileChains(id: string, body: ProfileBody, ipVersion: IpVersion): C[];
  workloadEndpointChains(ep: WorkloadEndpointBody, ipVersion: IpVersion, ctx?: EndpointRenderContext): C[];
  policyGroupChains(tiers: readonly TierInfo[], ipVersion: IpVersion, ctx?: EndpointRenderContext): C[];
  /** `iface` is the interface, or names.ALL_INTERFACES for the `*` endpoint. */
  hostEndpointChains(iface: string, hep: HostEndpointBody, ipVersion: IpVersion, ctx?: EndpointRenderContext): HostEndpointTables<C>;
  workloadDispatchChains(ifaceNames: readonly string[], ipVersion: IpVersion): C[];
  hostDispatchChains(
    ifaceNames: readonly string[],
    ipVersion: IpVersion,
    opts?: { defaultIface?: string; applyOnForward?: boolean; directions?: HostDispatchDirections },
  ): C[];
  staticChains(ipVersion: IpVersion): StaticTables<C>;
  natOutgoingChain(active: boolean, ipVersion: IpVersion): C;
}

/** The iptables backend: Felix's layout. */
export class IptablesRuleRenderer implements RuleRenderer<Chain> {
  readonly cfg: ResolvedConfig;

  constructor(cfg: RenderConfig = {}) {
    this.cfg = resolveConfig(cfg);
  }

  policyChains(id: PolicyId, body: PolicyBody, ipVersion: IpVersion): Chain[] {
    return renderPolicyChains(id, body, ipVersion, this.cfg);
  }

  profileChains(id: string, body: ProfileBody, ipVersion: IpVersion): Chain[] {
    return renderProfileChains(id, body, ipVersion, this.cfg);
  }

  workloadEndpointChains(ep: WorkloadEndpointBody, _ipVersion: IpVersion, ctx?: EndpointRenderContext): Chain[] {
    return renderWorkloadEndpointChains(ep, this.cfg, ctx);
  }

  policyGroupChains(tiers: readonly TierInfo[], _ipVersion: IpVersion, ctx?: EndpointRenderContext): Chain[] {
    return renderPolicyGroupChains(tiers, this.cfg, ctx);
  }

  hostEndpointChains(iface: string, hep: HostEndpointBody, _ipVersion: IpVersion, ctx?: EndpointRenderContext): HostEndpointTables<Chain> {
    return {
      filter: renderHostEndpointFilterChains(iface, hep, this.cfg, ctx),
      mangle: [...renderHostEndpointMangleIngressChains(iface, hep, this.cfg, ctx), ...renderHostEndpointMangleEgressChains(iface, hep, this.cfg, ctx)],
      raw: renderHostEndpointRawChains(iface, hep, this.cfg, ctx),
    };
  }

  workloadDispatchChains(ifaceNames: readonly string[], _ipVersion: IpVersion): Chain[] {
    return renderWorkloadDispatchChains(ifaceNames, this.cfg);
  }

  hostDispatchChains(ifaceNames: readonly string[], _ipVersion: IpVersion, opts?: { defaultIface?: string; applyOnForward?: boolean; directions?: HostDispatchDirections }): Chain[] {
    return renderHostDispatchChains(ifaceNames, this.cfg, opts);
  }

  endpointMarkDispatchChains(workloadIfaces: readonly string[], hostIfaces: readonly string[], mapper: EndpointMarkMapper): Chain[] {
    return renderEndpointMarkDispatchChains(workloadIfaces, hostIfaces, mapper, this.cfg);
  }

  staticChains(ipVersion: IpVersion): StaticTables<Chain> {
    return renderStaticChains(ipVersion, this.cfg);
  }

  natOutgoingChain(active: boolean, ipVersion: IpVersion): Chain {
    return renderNatOutgoingChain(active, ipVersion, this.cfg);
  }

  cidrBlockChain(cidrs: readonly string[], ipVersion: IpVersion): Chain {
    return renderCidrBlockChain(cidrs, ipVersion, this.cfg);
  }

  floatingIpChains(dnats: ReadonlyMap<string, string>, snats: ReadonlyMap<string, string>): Chain[] {
    return renderFloatingIpChains(dnats, snats, this.cfg);
  }

  rpfSkipChain(entries: readonly RpfSkipEntry[], ipVersion: IpVersion): Chain {
    return renderRpfSkipChain(entries, ipVersion);
  }
}

/**
 * The chains Felix would actually program out of a table's desired set: those reachable from the
 * hooks, following the jumps of chains that are themselves programmed (current Felix's reference
 * counting in `table.go`; the iptables Table applies the same walk). Order is kept.
 */
export function programmedChains(chains: readonly Chain[], hooks: readonly HookRules[] = []): Chain[] {
  const byName = new Map<string, string[]>();
  for (const c of chains) byName.set(c.name, c.rules.flatMap((r) => ruleTargets(r)));
  const roots = hooks.flatMap((h) => h.rules.flatMap((r) => ruleTargets(r)));
  const reached = reachableChains(roots, (n) => byName.get(n));
  return chains.filter((c) => reached.has(c.name));
}

export * from './chain.js';
export * from './hash.js';
export * from './names.js';
export * from './marks.js';
export * from './restore.js';
export { resolveConfig, DEFAULT_FAILSAFE_INBOUND, DEFAULT_FAILSAFE_OUTBOUND, type RenderConfig, type ResolvedConfig, type ProtoPort, type IptablesFeatures } from './config.js';
export { renderParsedRule, logPrefixFor, limitNflogPrefix, type RuleContext, type RuleOwner, type RuleDirection } from './rule.js';
export { filterRuleToIpVersion, splitPortList, calculateRuleMatch } from './match.js';
export { renderPolicyChains, renderProfileChains } from './policy.js';
export { groupPolicies, tiersToGroups, policyGroupUid, policyGroupChainName, renderPolicyGroupChain, type PolicyGroup, type TierGroups, type SelectorLookup } from './groups.js';
export {
  renderWorkloadEndpointChains,
  renderPolicyGroupChains,
  renderHostEndpointFilterChains,
  renderHostEndpointMangleEgressChains,
  renderHostEndpointMangleIngressChains,
  renderHostEndpointRawChains,
  type EndpointRenderContext,
} from './endpoint.js';
export { renderWorkloadDispatchChains, renderHostDispatchChains, renderEndpointMarkDispatchChains, type HostDispatchDirections } from './dispatch.js';
export { renderStaticChains, staticHooks } from './static-tables.js';
export { renderNatOutgoingChain, renderCidrBlockChain, renderFloatingIpChains, renderRpfSkipChain, type RpfSkipEntry } from './nat.js';

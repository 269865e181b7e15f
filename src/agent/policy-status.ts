/**
 * `policy.endpoint` on the control socket (for `tortie status policy <namespace>/<pod>`): the
 * policies and profiles that apply to one local endpoint, tier by tier and in the order they are
 * evaluated, with the iptables chains Felix's layout gives them.
 */
import type { PolicyCalculator } from '../calc/policy/policy-calc.js';
import { policyKey, type PolicyId, type PolicyMessage, type TierInfo } from '../proto/policy.js';
import { UserError } from '../util/errors.js';
import { PREFIX, endpointChainName, policyChainName, profileChainName } from '../dataplane/rules/names.js';

export interface EndpointPolicyView {
  endpoint: string;
  interfaceName: string;
  addresses: string[];
  chains: { toEndpoint: string; fromEndpoint: string };
  tiers: {
    name: string;
    defaultAction: TierInfo['defaultAction'];
    ingress: { policy: string; chain: string }[];
    egress: { policy: string; chain: string }[];
  }[];
  profiles: { name: string; ingressChain: string; egressChain: string }[];
}

function parseTarget(params: unknown): { namespace: string; pod: string } {
  const p = (params ?? {}) as { namespace?: unknown; pod?: unknown };
  if (typeof p.namespace !== 'string' || typeof p.pod !== 'string' || !p.namespace || !p.pod) {
    throw new UserError('policy.endpoint needs {"namespace": "...", "pod": "..."}', { code: 'E_BAD_PARAMS' });
  }
  return { namespace: p.namespace, pod: p.pod };
}

export function describeEndpointPolicy(calc: PolicyCalculator, params: unknown): EndpointPolicyView {
  const { namespace, pod } = parseTarget(params);
  let found: Extract<PolicyMessage, { type: 'workload-endpoint-update' }> | undefined;
  for (const key of calc.localEndpointKeys()) {
    const m = calc.endpointMessage(key);
    if (m?.type === 'workload-endpoint-update' && m.id.workload === `${namespace}/${pod}`) found = m;
  }
  if (!found) throw new UserError(`no endpoint of pod ${namespace}/${pod} on this node`, { code: 'E_NOT_FOUND' });
  const ep = found.endpoint;
  // Ingress to a workload is Felix's "inbound" direction (cali-pi-, cali-pri-, cali-tw-).
  const row = (id: PolicyId, dir: 'ingress' | 'egress') => ({ policy: policyKey(id), chain: policyChainName(dir === 'ingress' ? 'inbound' : 'outbound', id) });
  const e = { toEndpoint: endpointChainName(PREFIX.toWorkload, ep.name), fromEndpoint: endpointChainName(PREFIX.fromWorkload, ep.name) };
  return {
    endpoint: `${found.id.orchestrator}/${found.id.workload}/${found.id.endpoint}`,
    interfaceName: ep.name,
    addresses: [...ep.ipv4Nets, ...ep.ipv6Nets],
    chains: { toEndpoint: e.toEndpoint, fromEndpoint: e.fromEndpoint },
    tiers: ep.tiers.map((t) => ({
      name: t.name,
      defaultAction: t.defaultAction,
      ingress: t.ingressPolicies.map((id) => row(id, 'ingress')),
      egress: t.egressPolicies.map((id) => row(id, 'egress')),
    })),
    profiles: ep.profileIds.map((name) => ({ name, ingressChain: profileChainName('inbound', name), egressChain: profileChainName('outbound', name) })),
  };
}

/** The view as text, for the CLI. */
export function formatEndpointPolicy(v: EndpointPolicyView): string {
  const lines = [`Endpoint ${v.endpoint} (${v.interfaceName}, ${v.addresses.join(', ') || 'no addresses'})`];
  lines.push(`  chains: to endpoint ${v.chains.toEndpoint}, from endpoint ${v.chains.fromEndpoint}`);
  if (v.tiers.length === 0) lines.push('  no policy selects this endpoint: profiles decide');
  for (const t of v.tiers) {
    lines.push(`  tier ${t.name} (end of tier: ${t.defaultAction})`);
    for (const [dir, rows] of [['ingress', t.ingress], ['egress', t.egress]] as const) {
      if (rows.length === 0) continue;
      lines.push(`    ${dir}:`);
      rows.forEach((r, i) => lines.push(`      ${i + 1}. ${r.policy}  [${r.chain}]`));
    }
  }
  lines.push('  profiles:');
  if (v.profiles.length === 0) lines.push('    (none)');
  for (const p of v.profiles) lines.push(`    ${p.name}  [ingress ${p.ingressChain}, egress ${p.egressChain}]`);
  return lines.join('\n') + '\n';
}

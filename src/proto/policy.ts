/**
 * The policy half of tortie's calc → dataplane messages: what Felix's `felix/proto` carries for
 * policy (ActivePolicyUpdate, ActiveProfileUpdate, IPSetUpdate, WorkloadEndpointUpdate, ...), as
 * plain TypeScript. The calc graph produces these; the dataplane's rule renderer and its ipset and
 * iptables reconcilers consume them. Neither side imports the other: both import this folder.
 *
 * Rules arrive here already resolved: every selector became the id of an IP set (the calc graph
 * owns the label index and the membership of those sets), named ports became `ip-port` sets, and
 * protocol names are canonical. So the renderer is a pure function of these messages and never
 * evaluates a selector.
 */

export type IpVersion = 4 | 6;

/** Kinds of policy as Felix's PolicyID names them (`felix/types/policy_id.go`). */
export type PolicyKind = 'GlobalNetworkPolicy' | 'NetworkPolicy' | 'KubernetesNetworkPolicy' | 'StagedGlobalNetworkPolicy' | 'StagedNetworkPolicy' | 'StagedKubernetesNetworkPolicy';

/** Identifies one policy: namespace only for namespaced kinds. */
export interface PolicyId {
  readonly tier: string;
  readonly kind: PolicyKind;
  readonly namespace?: string;
  readonly name: string;
}

/** A canonical string key for a PolicyId (Map keys; also what logs print). */
export function policyKey(id: PolicyId): string {
  return id.namespace ? `${id.kind}/${id.namespace}/${id.name}` : `${id.kind}/${id.name}`;
}

export type RuleAction = 'allow' | 'deny' | 'log' | 'pass';

/** A protocol by canonical lower-case name (`tcp`, `udp`, `icmp`, `icmpv6`, `sctp`, `udplite`) or number. */
export type Protocol = string | number;

/** Single ports have `first === last`. */
export interface PortRange {
  readonly first: number;
  readonly last: number;
}

export interface IcmpMatch {
  readonly type: number;
  /** Absent: any code of that type. */
  readonly code?: number;
}

/**
 * One rule, every selector already an IP set id. Empty arrays mean "no constraint". Within one
 * list the entries are ORed (any of these nets / ports / sets); the lists are ANDed; a `not*` list
 * matches when the packet matches none of its entries.
 */
export interface ParsedRule {
  readonly action: RuleAction;
  readonly ipVersion?: IpVersion;
  readonly protocol?: Protocol;
  readonly notProtocol?: Protocol;

  readonly srcNets: readonly string[];
  readonly notSrcNets: readonly string[];
  readonly dstNets: readonly string[];
  readonly notDstNets: readonly string[];

  readonly srcPorts: readonly PortRange[];
  readonly notSrcPorts: readonly PortRange[];
  readonly dstPorts: readonly PortRange[];
  readonly notDstPorts: readonly PortRange[];

  /** IP sets (type `ip` or `net`) the source address must be in: all of them (ANDed). */
  readonly srcIpSetIds: readonly string[];
  readonly notSrcIpSetIds: readonly string[];
  readonly dstIpSetIds: readonly string[];
  readonly notDstIpSetIds: readonly string[];

  /** `ip-port` sets: a packet matches the port part if it matches any numeric range OR any of these. */
  readonly srcNamedPortIpSetIds: readonly string[];
  readonly notSrcNamedPortIpSetIds: readonly string[];
  readonly dstNamedPortIpSetIds: readonly string[];
  readonly notDstNamedPortIpSetIds: readonly string[];

  readonly icmp?: IcmpMatch;
  readonly notIcmp?: IcmpMatch;

  /** A stable id for the rule (Felix's rule_id), for logs and `tortie status policy`. */
  readonly ruleId: string;
  /** `metadata.annotations` of the rule as written. */
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface PolicyBody {
  /** For NetworkPolicy / KubernetesNetworkPolicy: the policy's namespace. */
  readonly namespace?: string;
  readonly inboundRules: readonly ParsedRule[];
  readonly outboundRules: readonly ParsedRule[];
  /** doNotTrack: rendered into the raw table. */
  readonly untracked: boolean;
  /** preDNAT: rendered into the mangle table. */
  readonly preDnat: boolean;
  readonly applyOnForward: boolean;
  /**
   * The policy's selector as written (Felix's Policy.OriginalSelector). The dataplane groups
   * consecutive policies with equal selectors into shared chains (`cali-gi-` / `cali-go-`).
   */
  readonly originalSelector?: string;
}

export interface ProfileBody {
  readonly inboundRules: readonly ParsedRule[];
  readonly outboundRules: readonly ParsedRule[];
}

/** One tier's policies that apply to one endpoint, in order, per direction. */
export interface TierInfo {
  readonly name: string;
  readonly ingressPolicies: readonly PolicyId[];
  readonly egressPolicies: readonly PolicyId[];
  /** What happens at the end of the tier when a policy applied and none decided. */
  readonly defaultAction: 'Deny' | 'Pass';
}

export interface WorkloadEndpointId {
  readonly orchestrator: string;
  readonly workload: string;
  readonly endpoint: string;
}

export function workloadEndpointKey(id: WorkloadEndpointId): string {
  return `${id.orchestrator}/${id.workload}/${id.endpoint}`;
}

export interface WorkloadEndpointBody {
  /** `active` unless the endpoint is administratively down. */
  readonly state: 'active' | 'inactive';
  /** Host-side interface name (`cali...`). */
  readonly name: string;
  readonly mac?: string;
  readonly profileIds: readonly string[];
  readonly ipv4Nets: readonly string[];
  readonly ipv6Nets: readonly string[];
  readonly tiers: readonly TierInfo[];
}

export interface HostEndpointBody {
  /** Interface name, or `*` for all-interfaces host endpoints. */
  readonly name: string;
  readonly profileIds: readonly string[];
  readonly tiers: readonly TierInfo[];
  readonly untrackedTiers: readonly TierInfo[];
  readonly preDnatTiers: readonly TierInfo[];
  readonly forwardTiers: readonly TierInfo[];
  readonly expectedIpv4Addrs: readonly string[];
  readonly expectedIpv6Addrs: readonly string[];
}

/**
 * `ip`: addresses; `net`: CIDRs; `ip-port`: `addr,proto:port` members (named ports). One set id
 * carries both families, as Felix's calc does; the dataplane splits it into `cali40` / `cali60`.
 */
export type IpSetType = 'ip' | 'net' | 'ip-port';

/** The policy messages, a discriminated union on `type`. */
export type PolicyMessage =
  | { readonly type: 'ipset-update'; readonly id: string; readonly setType: IpSetType; readonly members: readonly string[] }
  | { readonly type: 'ipset-delta'; readonly id: string; readonly added: readonly string[]; readonly removed: readonly string[] }
  | { readonly type: 'ipset-remove'; readonly id: string }
  | { readonly type: 'policy-update'; readonly id: PolicyId; readonly policy: PolicyBody }
  | { readonly type: 'policy-remove'; readonly id: PolicyId }
  | { readonly type: 'profile-update'; readonly id: string; readonly profile: ProfileBody }
  | { readonly type: 'profile-remove'; readonly id: string }
  | { readonly type: 'workload-endpoint-update'; readonly id: WorkloadEndpointId; readonly endpoint: WorkloadEndpointBody }
  | { readonly type: 'workload-endpoint-remove'; readonly id: WorkloadEndpointId }
  | { readonly type: 'host-endpoint-update'; readonly id: string; readonly endpoint: HostEndpointBody }
  | { readonly type: 'host-endpoint-remove'; readonly id: string };

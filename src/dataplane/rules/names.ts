/**
 * Chain and IP set names, as Felix spells them.
 *
 * Policy ids in chain names follow the layout of current Calico (the v3.31/v3.32 line, where
 * felix/types PolicyID is kind/namespace/name and carries no tier): `cali-pi-` / `cali-po-`
 * followed by `<kind short name>/<namespace>/<name>` (or `<kind short name>/<name>` for global
 * kinds), e.g. `cali-pi-gnp/allow-dns`, `cali-po-np/prod/web`. Older Felix used `<tier>/<name>`;
 * tortie does not render that form. Every name longer than iptables' 28 characters is shortened
 * to the prefix, `_` and the start of the unpadded base64url SHA-256 of the rest (hashutils
 * GetLengthLimitedID); so is an empty suffix, and one of exactly the limit that starts with `_`.
 *
 * IP set names are `cali40` / `cali60` and the set id, cut to ipset's 31 characters (the calc
 * layer's ids are already hashes, so Felix simply truncates).
 */
import { createHash } from 'node:crypto';
import type { IpVersion, PolicyId, PolicyKind } from '../../proto/policy.js';

/** iptables' limit on chain names. */
export const MAX_CHAIN_NAME_LENGTH = 28;
/** ipset's limit on set names. */
export const MAX_IPSET_NAME_LENGTH = 31;

export const CHAIN_PREFIX = 'cali-';

export const CHAIN = {
  filterInput: 'cali-INPUT',
  filterForward: 'cali-FORWARD',
  filterOutput: 'cali-OUTPUT',
  rawPrerouting: 'cali-PREROUTING',
  rawOutput: 'cali-OUTPUT',
  natPrerouting: 'cali-PREROUTING',
  natPostrouting: 'cali-POSTROUTING',
  natOutput: 'cali-OUTPUT',
  natOutgoing: 'cali-nat-outgoing',
  manglePrerouting: 'cali-PREROUTING',
  manglePostrouting: 'cali-POSTROUTING',
  failsafeIn: 'cali-failsafe-in',
  failsafeOut: 'cali-failsafe-out',
  workloadToHost: 'cali-wl-to-host',
  fromWorkloadDispatch: 'cali-from-wl-dispatch',
  toWorkloadDispatch: 'cali-to-wl-dispatch',
  fromHostEndpoint: 'cali-from-host-endpoint',
  toHostEndpoint: 'cali-to-host-endpoint',
  fromHostEndpointForward: 'cali-from-hep-forward',
  toHostEndpointForward: 'cali-to-hep-forward',
  setEndpointMark: 'cali-set-endpoint-mark',
  fromEndpointMark: 'cali-from-endpoint-mark',
  forwardCheck: 'cali-forward-check',
  forwardEndpointMark: 'cali-forward-endpoint-mark',
  wireguardIncomingMark: 'cali-wireguard-incoming-mark',
  rpfSkip: 'cali-rpf-skip',
  cidrBlock: 'cali-cidr-block',
  fipDnat: 'cali-fip-dnat',
  fipSnat: 'cali-fip-snat',
} as const;

/** Per-endpoint and per-policy chain prefixes. */
export const PREFIX = {
  policyInbound: 'cali-pi-',
  policyOutbound: 'cali-po-',
  profileInbound: 'cali-pri-',
  profileOutbound: 'cali-pro-',
  policyGroupInbound: 'cali-gi-',
  policyGroupOutbound: 'cali-go-',
  toWorkload: 'cali-tw-',
  fromWorkload: 'cali-fw-',
  setEndpointMark: 'cali-sm-',
  toHost: 'cali-th-',
  fromHost: 'cali-fh-',
  toHostForward: 'cali-thfw-',
  fromHostForward: 'cali-fhfw-',
} as const;

/** Felix's IP set ids for its own sets (members managed by the ipset reconciler). */
export const IPSET_ID = {
  allPools: 'all-ipam-pools',
  masqPools: 'masq-ipam-pools',
  allHostNets: 'all-hosts-net',
  allVxlanSourceNets: 'all-vxlan-net',
  thisHost: 'this-host',
} as const;

/**
 * The interface name Felix uses for the all-interfaces (`*`) host endpoint: longer than
 * IFNAMSIZ, so no real interface can have it.
 */
export const ALL_INTERFACES = 'any-interface-at-all';

const SHORTENED = '_';

/** prefix + suffix if it fits in maxLength; otherwise prefix + `_` + hash of suffix, cut to fit. */
export function lengthLimitedId(prefix: string, suffix: string, maxLength: number): string {
  const s = suffix === '' ? SHORTENED : suffix;
  const total = Buffer.byteLength(prefix) + Buffer.byteLength(s);
  if (total > maxLength || (total === maxLength && s.startsWith(SHORTENED))) {
    const room = maxLength - 1 - Buffer.byteLength(prefix);
    if (room <= 0) throw new Error(`prefix ${JSON.stringify(prefix)} too long for ${maxLength} characters`);
    const hash = createHash('sha256').update(s).digest('base64url');
    return prefix + SHORTENED + hash.slice(0, room);
  }
  return prefix + s;
}

const KIND_SHORT_NAMES: Readonly<Record<string, string>> = {
  NetworkPolicy: 'np',
  GlobalNetworkPolicy: 'gnp',
  StagedNetworkPolicy: 'snp',
  StagedGlobalNetworkPolicy: 'sgnp',
  StagedKubernetesNetworkPolicy: 'sknp',
  KubernetesNetworkPolicy: 'knp',
  KubernetesClusterNetworkPolicy: 'kcnp',
};

/** Felix's short kind names (`gnp`, `np`, `knp`, ...); an unknown kind stands for itself. */
export function kindShortName(kind: PolicyKind | string): string {
  return KIND_SHORT_NAMES[kind] ?? kind;
}

export function isStagedKind(kind: PolicyKind | string): boolean {
  return kind === 'StagedNetworkPolicy' || kind === 'StagedGlobalNetworkPolicy' || kind === 'StagedKubernetesNetworkPolicy';
}

/** Felix's PolicyID.ID(): `<short kind>/<namespace>/<name>`, namespace left out when empty. */
export function policyIdString(id: PolicyId): string {
  const kind = kindShortName(id.kind);
  return id.namespace ? `${kind}/${id.namespace}/${id.name}` : `${kind}/${id.name}`;
}

/** Felix's PolicyID.String(), which policy group ids hash. */
export function policyIdGoString(id: PolicyId): string {
  return `{Name: ${id.name}, Namespace: ${id.namespace ?? ''}, Kind: ${id.kind}}`;
}

export type PolicyDirection = 'inbound' | 'outbound';

export function policyChainName(direction: PolicyDirection, id: PolicyId): string {
  const prefix = direction === 'inbound' ? PREFIX.policyInbound : PREFIX.policyOutbound;
  return lengthLimitedId(prefix, policyIdString(id), MAX_CHAIN_NAME_LENGTH);
}

export function profileChainName(direction: PolicyDirection, profileId: string): string {
  const prefix = direction === 'inbound' ? PREFIX.profileInbound : PREFIX.profileOutbound;
  return lengthLimitedId(prefix, profileId, MAX_CHAIN_NAME_LENGTH);
}

/** `cali-tw-<iface>` and friends; interface names past the limit are hashed like any id. */
export function endpointChainName(prefix: string, ifaceName: string): string {
  return lengthLimitedId(prefix, ifaceName, MAX_CHAIN_NAME_LENGTH);
}

/** The kernel name of an IP set: `cali40<id>` / `cali60<id>`, at most 31 characters. */
export function ipSetName(setId: string, ipVersion: IpVersion): string {
  const name = `cali${ipVersion}0${setId}`;
  return name.length > MAX_IPSET_NAME_LENGTH ? name.slice(0, MAX_IPSET_NAME_LENGTH) : name;
}

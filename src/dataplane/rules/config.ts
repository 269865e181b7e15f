/**
 * What the renderer needs to know of FelixConfiguration, with Felix's defaults
 * (felix/config/config_params.go), and the values derived from it once (mark bits, the actions
 * behind DefaultEndpointToHostAction / IptablesFilterAllowAction / ..., the iptables features).
 */
import { allocateMarkBits, DEFAULT_MARK_MASK, type MarkBits } from './marks.js';
import * as A from './fragments.js';

export interface ProtoPort {
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly port: number;
  /** Optional CIDR the failsafe is limited to (source for inbound, destination for outbound). */
  readonly net?: string;
}

/** What the kernel and iptables binary support; Felix detects these, tortie's caller passes them. */
export interface IptablesFeatures {
  /** `--random-fully` on SNAT (iptables >= 1.6.0, kernel >= 3.14). */
  readonly snatFullyRandom: boolean;
  /** `--random-fully` on MASQUERADE (iptables >= 1.6.2, kernel >= 3.14). */
  readonly masqFullyRandom: boolean;
  /** NFLOG takes `--nflog-size` (else `--nflog-range`). */
  readonly nflogSize: boolean;
}

type Verdict = 'Accept' | 'Drop' | 'Reject' | 'Return';

export interface RenderConfig {
  /** IptablesMarkMask. Default 0xffff0000. */
  readonly markMask?: number;
  /** Mark bits as already allocated (e.g. read from a running Felix); default: allocated from markMask. */
  readonly marks?: MarkBits;
  /** InterfacePrefix split on commas. Default ['cali']. */
  readonly workloadIfacePrefixes?: readonly string[];
  /** DefaultEndpointToHostAction. Default Drop. */
  readonly defaultEndpointToHostAction?: Verdict;
  /** IptablesFilterAllowAction. Default Accept. */
  readonly filterAllowAction?: 'Accept' | 'Return';
  /** IptablesMangleAllowAction. Default Accept. */
  readonly mangleAllowAction?: 'Accept' | 'Return';
  /** IptablesFilterDenyAction. Default Drop. */
  readonly filterDenyAction?: 'Drop' | 'Reject';
  /** LogPrefix for `Log` rules; may use %t %k %n %p. Default calico-packet. */
  readonly logPrefix?: string;
  /** FailsafeInboundHostPorts. */
  readonly failsafeInboundHostPorts?: readonly ProtoPort[];
  /** FailsafeOutboundHostPorts. */
  readonly failsafeOutboundHostPorts?: readonly ProtoPort[];
  readonly disableConntrackInvalidCheck?: boolean;
  readonly allowVxlanPacketsFromWorkloads?: boolean;
  readonly allowIpipPacketsFromWorkloads?: boolean;
  readonly ipipEnabled?: boolean;
  readonly vxlanEnabled?: boolean;
  readonly vxlanEnabledV6?: boolean;
  /** Default 4789. */
  readonly vxlanPort?: number;
  /** This node's tunnel addresses; a tunnel gets its source-fixing MASQUERADE rule only with one. */
  readonly ipipTunnelAddress?: string;
  readonly vxlanTunnelAddress?: string;
  readonly vxlanTunnelAddressV6?: string;
  readonly wireguardEnabled?: boolean;
  readonly wireguardEnabledV6?: boolean;
  /** Default wireguard.cali / wg-v6.cali. */
  readonly wireguardInterfaceName?: string;
  readonly wireguardInterfaceNameV6?: string;
  /** Default 51820 / 51821. */
  readonly wireguardListeningPort?: number;
  readonly wireguardListeningPortV6?: number;
  readonly wireguardHostEncryptionEnabled?: boolean;
  /** kube-proxy in IPVS mode (Felix turns this on when kube-ipvs0 exists). */
  readonly kubeIpvsSupportEnabled?: boolean;
  /** KubeNodePortRanges. Default 30000:32767. */
  readonly kubeNodePortRanges?: readonly { readonly first: number; readonly last: number }[];
  /** NATPortRange for MASQUERADE/SNAT `--to-ports`. */
  readonly natPortRange?: { readonly first: number; readonly last: number };
  /** NATOutgoingAddress: SNAT to this instead of MASQUERADE. */
  readonly natOutgoingAddress?: string;
  /** IptablesNATOutgoingInterfaceFilter. */
  readonly natOutgoingInterfaceFilter?: string;
  /** NATOutgoingExclusions. Default IPPoolsOnly. */
  readonly natOutgoingExclusions?: 'IPPoolsOnly' | 'IPPoolsAndHostIPs';
  /** ServiceLoopPrevention. Default Drop. */
  readonly serviceLoopPrevention?: 'Drop' | 'Reject' | 'Disabled';
  /** Flow logs (Goldmane): NFLOG rules beside every verdict. Default off. */
  readonly flowLogsEnabled?: boolean;
  /** ChainInsertMode for the hooks. Default insert. */
  readonly chainInsertMode?: 'insert' | 'append';
  readonly features?: Partial<IptablesFeatures>;
}

export const DEFAULT_FAILSAFE_INBOUND: readonly ProtoPort[] = [
  { protocol: 'tcp', port: 22 },
  { protocol: 'udp', port: 68 },
  { protocol: 'tcp', port: 179 },
  { protocol: 'tcp', port: 2379 },
  { protocol: 'tcp', port: 2380 },
  { protocol: 'tcp', port: 5473 },
  { protocol: 'tcp', port: 6443 },
  { protocol: 'tcp', port: 6666 },
  { protocol: 'tcp', port: 6667 },
];

export const DEFAULT_FAILSAFE_OUTBOUND: readonly ProtoPort[] = [
  { protocol: 'udp', port: 53 },
  { protocol: 'udp', port: 67 },
  { protocol: 'tcp', port: 179 },
  { protocol: 'tcp', port: 2379 },
  { protocol: 'tcp', port: 2380 },
  { protocol: 'tcp', port: 5473 },
  { protocol: 'tcp', port: 6443 },
  { protocol: 'tcp', port: 6666 },
  { protocol: 'tcp', port: 6667 },
];

/** An action and the word Felix prints for it in comments (`Drop if no profiles matched`). */
export interface NamedAction {
  readonly args: readonly string[];
  readonly name: string;
}

export interface ResolvedConfig {
  readonly marks: MarkBits;
  readonly workloadIfacePrefixes: readonly string[];
  readonly deny: NamedAction;
  readonly filterAllow: readonly string[];
  readonly mangleAllow: readonly string[];
  readonly endpointToHost: readonly string[];
  /** undefined: ServiceLoopPrevention Disabled. */
  readonly blockCidr: readonly string[] | undefined;
  readonly logPrefix: string;
  readonly failsafeIn: readonly ProtoPort[];
  readonly failsafeOut: readonly ProtoPort[];
  readonly disableConntrackInvalid: boolean;
  readonly allowVxlanFromWorkloads: boolean;
  readonly allowIpipFromWorkloads: boolean;
  readonly ipipEnabled: boolean;
  readonly vxlanEnabled: boolean;
  readonly vxlanEnabledV6: boolean;
  readonly vxlanPort: number;
  readonly ipipTunnelAddress: string | undefined;
  readonly vxlanTunnelAddress: string | undefined;
  readonly vxlanTunnelAddressV6: string | undefined;
  readonly wireguardEnabled: boolean;
  readonly wireguardEnabledV6: boolean;
  readonly wireguardInterfaceName: string;
  readonly wireguardInterfaceNameV6: string;
  readonly wireguardListeningPort: number;
  readonly wireguardListeningPortV6: number;
  readonly wireguardHostEncryption: boolean;
  readonly kubeIpvs: boolean;
  readonly kubeNodePortRanges: readonly { readonly first: number; readonly last: number }[];
  readonly natPortRange: { readonly first: number; readonly last: number } | undefined;
  readonly natOutgoingAddress: string | undefined;
  readonly natOutgoingInterfaceFilter: string | undefined;
  readonly natOutgoingExcludeHosts: boolean;
  readonly flowLogs: boolean;
  readonly chainInsertMode: 'insert' | 'append';
  readonly features: IptablesFeatures;
}

function verdict(v: Verdict): readonly string[] {
  switch (v) {
    case 'Accept':
      return A.accept();
    case 'Drop':
      return A.drop();
    case 'Reject':
      return A.reject();
    case 'Return':
      return A.ret();
  }
}

export function resolveConfig(cfg: RenderConfig = {}): ResolvedConfig {
  const wireguardEnabled = cfg.wireguardEnabled ?? false;
  const wireguardEnabledV6 = cfg.wireguardEnabledV6 ?? false;
  const kubeIpvs = cfg.kubeIpvsSupportEnabled ?? false;
  const marks = cfg.marks ?? allocateMarkBits(cfg.markMask ?? DEFAULT_MARK_MASK, { wireguard: wireguardEnabled || wireguardEnabledV6, kubeIpvs });
  const denyReject = cfg.filterDenyAction === 'Reject';
  const loop = cfg.serviceLoopPrevention ?? 'Drop';
  return {
    marks,
    workloadIfacePrefixes: cfg.workloadIfacePrefixes ?? ['cali'],
    deny: denyReject ? { args: A.reject(), name: 'Reject' } : { args: A.drop(), name: 'Drop' },
    filterAllow: cfg.filterAllowAction === 'Return' ? A.ret() : A.accept(),
    mangleAllow: cfg.mangleAllowAction === 'Return' ? A.ret() : A.accept(),
    endpointToHost: verdict(cfg.defaultEndpointToHostAction ?? 'Drop'),
    blockCidr: loop === 'Disabled' ? undefined : loop === 'Reject' ? A.reject() : A.drop(),
    logPrefix: cfg.logPrefix !== undefined && cfg.logPrefix !== '' ? cfg.logPrefix : 'calico-packet',
    failsafeIn: cfg.failsafeInboundHostPorts ?? DEFAULT_FAILSAFE_INBOUND,
    failsafeOut: cfg.failsafeOutboundHostPorts ?? DEFAULT_FAILSAFE_OUTBOUND,
    disableConntrackInvalid: cfg.disableConntrackInvalidCheck ?? false,
    allowVxlanFromWorkloads: cfg.allowVxlanPacketsFromWorkloads ?? false,
    allowIpipFromWorkloads: cfg.allowIpipPacketsFromWorkloads ?? false,
    ipipEnabled: cfg.ipipEnabled ?? false,
    vxlanEnabled: cfg.vxlanEnabled ?? false,
    vxlanEnabledV6: cfg.vxlanEnabledV6 ?? false,
    vxlanPort: cfg.vxlanPort ?? 4789,
    ipipTunnelAddress: cfg.ipipTunnelAddress || undefined,
    vxlanTunnelAddress: cfg.vxlanTunnelAddress || undefined,
    vxlanTunnelAddressV6: cfg.vxlanTunnelAddressV6 || undefined,
    wireguardEnabled,
    wireguardEnabledV6,
    wireguardInterfaceName: cfg.wireguardInterfaceName ?? 'wireguard.cali',
    wireguardInterfaceNameV6: cfg.wireguardInterfaceNameV6 ?? 'wg-v6.cali',
    wireguardListeningPort: cfg.wireguardListeningPort ?? 51820,
    wireguardListeningPortV6: cfg.wireguardListeningPortV6 ?? 51821,
    wireguardHostEncryption: cfg.wireguardHostEncryptionEnabled ?? false,
    kubeIpvs,
    kubeNodePortRanges: cfg.kubeNodePortRanges ?? [{ first: 30000, last: 32767 }],
    natPortRange: cfg.natPortRange && cfg.natPortRange.last > 0 ? cfg.natPortRange : undefined,
    natOutgoingAddress: cfg.natOutgoingAddress || undefined,
    natOutgoingInterfaceFilter: cfg.natOutgoingInterfaceFilter || undefined,
    natOutgoingExcludeHosts: cfg.natOutgoingExclusions === 'IPPoolsAndHostIPs',
    flowLogs: cfg.flowLogsEnabled ?? false,
    chainInsertMode: cfg.chainInsertMode ?? 'insert',
    features: { snatFullyRandom: true, masqFullyRandom: true, nflogSize: true, ...cfg.features },
  };
}

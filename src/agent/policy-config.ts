/**
 * The policy dataplane's settings from the agent's configuration: FELIX_* names mapped onto the
 * renderer's RenderConfig and the reconcilers' intervals, in one place.
 */
import type { AgentConfig } from '../config/schema.js';
import type { NodePolicyOptions } from '../dataplane/index.js';

export function policyOptions(c: AgentConfig): NodePolicyOptions {
  return {
    ipVersions: c.ipv6Support ? [4, 6] : [4],
    backend: c.iptablesBackend,
    lockTimeoutMs: c.iptablesLockTimeout * 1000,
    iptablesRefreshMs: c.iptablesRefreshInterval * 1000,
    ipsetsRefreshMs: c.ipsetsRefreshInterval * 1000,
    postWriteCheckMs: c.iptablesPostWriteCheckInterval * 1000,
    render: {
      markMask: c.iptablesMarkMask,
      workloadIfacePrefixes: c.interfacePrefix,
      defaultEndpointToHostAction: c.defaultEndpointToHostAction,
      filterAllowAction: c.iptablesFilterAllowAction,
      mangleAllowAction: c.iptablesMangleAllowAction,
      filterDenyAction: c.iptablesFilterDenyAction,
      logPrefix: c.logPrefix,
      chainInsertMode: c.chainInsertMode,
      vxlanPort: c.vxlanPort,
      allowVxlanPacketsFromWorkloads: c.allowVxlanPacketsFromWorkloads,
      allowIpipPacketsFromWorkloads: c.allowIpipPacketsFromWorkloads,
      disableConntrackInvalidCheck: c.disableConntrackInvalidCheck,
      ...(c.failsafeInboundHostPorts ? { failsafeInboundHostPorts: c.failsafeInboundHostPorts } : {}),
      ...(c.failsafeOutboundHostPorts ? { failsafeOutboundHostPorts: c.failsafeOutboundHostPorts } : {}),
      ...(c.natOutgoingAddress ? { natOutgoingAddress: c.natOutgoingAddress } : {}),
      ...(c.natPortRange ? { natPortRange: c.natPortRange } : {}),
    },
  };
}

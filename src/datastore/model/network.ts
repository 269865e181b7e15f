/**
 * Schemas of the resources that describe the cluster's network: IPPool, Node, BGPConfiguration,
 * BGPPeer (projectcalico.org/v3, field names as Calico's api/pkg/apis/projectcalico/v3 has them).
 */
import { z } from 'zod';
import {
  addrCidrSchema,
  asNumberSchema,
  encapModeSchema,
  ipSchema,
  ipToBigInt,
  networkCidrSchema,
  parseCidr,
  portSchema,
  resourceSchema,
  selectorSchema,
} from './common.js';

/** IPPool blockSize defaults (Calico: 26 for IPv4, 122 for IPv6) and the ranges its validator allows. */
export const DEFAULT_BLOCK_SIZE_V4 = 26;
export const DEFAULT_BLOCK_SIZE_V6 = 122;
const BLOCK_SIZE_RANGE = { 4: [20, 32], 6: [116, 128] } as const;
/** Default IPPool nodeSelector: every node. */
export const DEFAULT_NODE_SELECTOR = 'all()';
export const IPPOOL_ALLOWED_USES = ['Workload', 'Tunnel', 'LoadBalancer'] as const;
/** Calico's default allowedUses when the field is absent. */
export const DEFAULT_ALLOWED_USES = ['Workload', 'Tunnel'] as const;

export const ipPoolSpecSchema = z
  .looseObject({
    cidr: networkCidrSchema,
    ipipMode: encapModeSchema,
    vxlanMode: encapModeSchema,
    natOutgoing: z.boolean().default(false),
    disabled: z.boolean().default(false),
    disableBGPExport: z.boolean().default(false),
    blockSize: z.number().int().optional(),
    nodeSelector: selectorSchema.default(DEFAULT_NODE_SELECTOR),
    allowedUses: z.array(z.enum(IPPOOL_ALLOWED_USES)).optional(),
    assignmentMode: z.enum(['Automatic', 'Manual']).optional(),
  })
  .transform((spec, ctx) => {
    const c = parseCidr(spec.cidr);
    if (!c) return spec; // the cidr refinement has already reported it
    const blockSize = spec.blockSize ?? (c.version === 4 ? DEFAULT_BLOCK_SIZE_V4 : DEFAULT_BLOCK_SIZE_V6);
    const [lo, hi] = BLOCK_SIZE_RANGE[c.version];
    if (blockSize < lo || blockSize > hi) {
      ctx.addIssue({ code: 'custom', path: ['blockSize'], message: `${blockSize} is out of range for IPv${c.version} (${lo}-${hi})` });
    } else if (blockSize < c.prefixLen) {
      ctx.addIssue({ code: 'custom', path: ['blockSize'], message: `${blockSize} is shorter than the pool's prefix /${c.prefixLen}` });
    }
    if (spec.ipipMode !== 'Never' && spec.vxlanMode !== 'Never') {
      ctx.addIssue({ code: 'custom', path: ['ipipMode'], message: 'ipipMode and vxlanMode cannot both be enabled' });
    }
    if (c.version === 6 && spec.ipipMode !== 'Never') {
      ctx.addIssue({ code: 'custom', path: ['ipipMode'], message: 'IPIP is not supported on an IPv6 pool' });
    }
    return { ...spec, blockSize, allowedUses: spec.allowedUses ?? [...DEFAULT_ALLOWED_USES] };
  });
export const ipPoolSchema = resourceSchema('IPPool', ipPoolSpecSchema);
export type IPPool = z.infer<typeof ipPoolSchema>;

const macSchema = z.string().regex(/^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/, 'is not a valid MAC address');

export const nodeSpecSchema = z.looseObject({
  bgp: z
    .looseObject({
      asNumber: asNumberSchema.optional(),
      ipv4Address: addrCidrSchema(4).optional(),
      ipv6Address: addrCidrSchema(6).optional(),
      ipv4IPIPTunnelAddr: ipSchema(4).optional(),
      routeReflectorClusterID: ipSchema(4).optional(),
    })
    .optional(),
  ipv4VXLANTunnelAddr: ipSchema(4).optional(),
  ipv6VXLANTunnelAddr: ipSchema(6).optional(),
  vxlanTunnelMACAddr: macSchema.optional(),
  vxlanTunnelMACAddrV6: macSchema.optional(),
  orchRefs: z.array(z.looseObject({ nodeName: z.string().optional(), orchestrator: z.string() })).optional(),
  addresses: z.array(z.looseObject({ address: z.string(), type: z.string().optional() })).optional(),
});
export const nodeSchema = resourceSchema('Node', nodeSpecSchema);
export type Node = z.infer<typeof nodeSchema>;

/** BGPConfiguration defaults Calico applies when the global resource leaves a field unset. */
export const BGP_DEFAULTS = { nodeToNodeMeshEnabled: true, asNumber: 64512, listenPort: 179 } as const;

const serviceCidrList = z.array(z.looseObject({ cidr: z.string().pipe(networkCidrSchema) })).optional();
const communityValue = z
  .string()
  .regex(/^(\d+:\d+|\d+:\d+:\d+)$/, 'is not a community (standard AA:NN or large AA:NN:MM)');

export const bgpConfigurationSpecSchema = z.looseObject({
  logSeverityScreen: z.enum(['Debug', 'Info', 'Warning', 'Error', 'Fatal']).optional(),
  nodeToNodeMeshEnabled: z.boolean().optional(),
  asNumber: asNumberSchema.optional(),
  listenPort: portSchema.optional(),
  serviceClusterIPs: serviceCidrList,
  serviceExternalIPs: serviceCidrList,
  serviceLoadBalancerIPs: serviceCidrList,
  communities: z.array(z.looseObject({ name: z.string(), value: communityValue })).optional(),
  prefixAdvertisements: z.array(z.looseObject({ cidr: z.string(), communities: z.array(z.string()) })).optional(),
  nodeMeshPassword: z.looseObject({ secretKeyRef: z.looseObject({ name: z.string(), key: z.string() }) }).optional(),
  nodeMeshMaxRestartTime: z.string().optional(),
  ignoredInterfaces: z.array(z.string()).optional(),
  bindMode: z.enum(['None', 'NodeIP']).optional(),
});
export const bgpConfigurationSchema = resourceSchema('BGPConfiguration', bgpConfigurationSpecSchema);
export type BGPConfiguration = z.infer<typeof bgpConfigurationSchema>;

/** The effective BGP settings of a node: `node.<name>` over `default` over Calico's built-ins. */
export function resolveBgpConfiguration(
  global: BGPConfiguration['spec'] | undefined,
  perNode: BGPConfiguration['spec'] | undefined,
): { nodeToNodeMeshEnabled: boolean; asNumber: number; listenPort: number } {
  return {
    nodeToNodeMeshEnabled: global?.nodeToNodeMeshEnabled ?? BGP_DEFAULTS.nodeToNodeMeshEnabled,
    asNumber: global?.asNumber ?? BGP_DEFAULTS.asNumber,
    listenPort: perNode?.listenPort ?? global?.listenPort ?? BGP_DEFAULTS.listenPort,
  };
}

/** peerIP is an address, optionally with a port: `10.0.0.1`, `10.0.0.1:1790`, `[fd00::1]:1790`. */
export function parsePeerIP(s: string): { ip: string; port?: number } | undefined {
  if (ipToBigInt(s)) return { ip: s };
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(s) ?? /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(s);
  if (!m || !ipToBigInt(m[1]!)) return undefined;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { ip: m[1]!, port } : undefined;
}

export const bgpPeerSpecSchema = z
  .looseObject({
    node: z.string().optional(),
    nodeSelector: selectorSchema.optional(),
    peerIP: z
      .string()
      .refine((s) => s === '' || parsePeerIP(s) !== undefined, { error: (i) => `${JSON.stringify(i.input)} is not an IP or IP:port` })
      .optional(),
    peerSelector: selectorSchema.optional(),
    asNumber: asNumberSchema.optional(),
    keepOriginalNextHop: z.boolean().optional(),
    password: z.looseObject({ secretKeyRef: z.looseObject({ name: z.string(), key: z.string() }) }).optional(),
    sourceAddress: z.enum(['UseNodeIP', 'None']).optional(),
    maxRestartTime: z.string().optional(),
    keepaliveTime: z.string().optional(),
    numAllowedLocalASNumbers: z.number().int().min(0).optional(),
    ttlSecurity: z.number().int().min(0).max(255).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.node && s.nodeSelector) ctx.addIssue({ code: 'custom', path: ['nodeSelector'], message: 'node and nodeSelector cannot both be set' });
    if (s.peerSelector && (s.peerIP || s.asNumber !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['peerSelector'], message: 'peerSelector cannot be combined with peerIP or asNumber' });
    }
    if (!s.peerSelector && (!s.peerIP || s.asNumber === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['peerIP'], message: 'either peerSelector or both peerIP and asNumber must be set' });
    }
  });
export const bgpPeerSchema = resourceSchema('BGPPeer', bgpPeerSpecSchema);
export type BGPPeer = z.infer<typeof bgpPeerSchema>;

/** WorkloadEndpoint and HostEndpoint (projectcalico.org/v3). */
import { z } from 'zod';
import { cidrSchema, ipSchema, portSchema, resourceSchema, wepNameSchema } from './common.js';

/** Linux interface names are at most 15 characters (IFNAMSIZ 16 including the NUL). */
export const IFNAME_MAX = 15;
const ifaceSchema = z.string().max(IFNAME_MAX, `interface names are at most ${IFNAME_MAX} characters`).regex(/^[^\s/]+$/, 'is not a valid interface name');
const macSchema = z.string().regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, 'is not a valid MAC address');
export const PROTOCOLS = ['TCP', 'UDP', 'SCTP', 'ICMP', 'ICMPv6', 'UDPLite'] as const;

/** A named port on an endpoint (Kubernetes containerPort names). */
export const endpointPortSchema = z.looseObject({
  name: z.string().min(1),
  protocol: z.union([z.enum(PROTOCOLS), z.number().int().min(0).max(255)]),
  port: portSchema,
  hostPort: z.number().int().min(0).max(65535).optional(),
  hostIP: z.string().optional(),
});

export const workloadEndpointSpecSchema = z.looseObject({
  orchestrator: z.string().optional(),
  workload: z.string().optional(),
  node: z.string().min(1, 'node must be set'),
  containerID: z.string().optional(),
  pod: z.string().optional(),
  endpoint: z.string().optional(),
  serviceAccountName: z.string().optional(),
  ipNetworks: z.array(cidrSchema).default([]),
  ipNATs: z.array(z.looseObject({ internalIP: ipSchema(), externalIP: ipSchema() })).optional(),
  ipv4Gateway: ipSchema(4).optional(),
  ipv6Gateway: ipSchema(6).optional(),
  profiles: z.array(z.string()).default([]),
  interfaceName: ifaceSchema,
  mac: macSchema.optional().or(z.literal('')),
  ports: z.array(endpointPortSchema).optional(),
  allowSpoofedSourcePrefixes: z.array(cidrSchema).optional(),
});
export const workloadEndpointSchema = resourceSchema('WorkloadEndpoint', workloadEndpointSpecSchema, {
  name: wepNameSchema,
  namespaced: true,
});
export type WorkloadEndpoint = z.infer<typeof workloadEndpointSchema>;

export const hostEndpointSpecSchema = z
  .looseObject({
    node: z.string().min(1, 'node must be set'),
    interfaceName: z.string().optional(),
    expectedIPs: z.array(ipSchema()).optional(),
    profiles: z.array(z.string()).optional(),
    ports: z.array(endpointPortSchema).optional(),
  })
  .refine((s) => !!s.interfaceName || (s.expectedIPs?.length ?? 0) > 0, {
    message: 'either interfaceName or expectedIPs must be set',
    path: ['interfaceName'],
  });
export const hostEndpointSchema = resourceSchema('HostEndpoint', hostEndpointSpecSchema);
export type HostEndpoint = z.infer<typeof hostEndpointSchema>;

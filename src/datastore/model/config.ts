/**
 * FelixConfiguration and ClusterInformation (projectcalico.org/v3). FelixConfiguration has well over
 * a hundred fields; the schema checks the types of the ones tortie reads and keeps the rest as
 * they are, so a newer Calico's fields never invalidate a resource.
 */
import { z } from 'zod';
import { portSchema, resourceSchema } from './common.js';

const severity = z.enum(['Debug', 'Info', 'Warning', 'Error', 'Fatal', 'Trace', 'None']);
const encapEnabled = z.boolean().optional();

export const felixConfigurationSpecSchema = z.looseObject({
  logSeverityScreen: severity.optional(),
  logSeverityFile: severity.optional(),
  ipipEnabled: encapEnabled,
  ipipMTU: z.number().int().min(0).optional(),
  vxlanEnabled: encapEnabled,
  vxlanMTU: z.number().int().min(0).optional(),
  vxlanMTUV6: z.number().int().min(0).optional(),
  vxlanPort: portSchema.optional(),
  vxlanVNI: z.number().int().min(0).max(16777215).optional(),
  healthEnabled: z.boolean().optional(),
  healthHost: z.string().optional(),
  healthPort: portSchema.optional(),
  prometheusMetricsEnabled: z.boolean().optional(),
  prometheusMetricsHost: z.string().optional(),
  prometheusMetricsPort: portSchema.optional(),
  routeRefreshInterval: z.string().optional(),
  iptablesRefreshInterval: z.string().optional(),
  ipsetsRefreshInterval: z.string().optional(),
  interfacePrefix: z.string().optional(),
  deviceRouteProtocol: z.number().int().min(0).max(255).optional(),
  defaultEndpointToHostAction: z.enum(['Drop', 'Accept', 'Return']).optional(),
  iptablesBackend: z.enum(['Legacy', 'NFT', 'Auto']).optional(),
  routeSource: z.enum(['CalicoIPAM', 'WorkloadIPs']).optional(),
});
export const felixConfigurationSchema = resourceSchema('FelixConfiguration', felixConfigurationSpecSchema);
export type FelixConfiguration = z.infer<typeof felixConfigurationSchema>;

export const clusterInformationSpecSchema = z.looseObject({
  clusterGUID: z.string().optional(),
  clusterType: z.string().optional(),
  calicoVersion: z.string().optional(),
  datastoreReady: z.boolean().optional(),
  variant: z.string().optional(),
});
export const clusterInformationSchema = resourceSchema('ClusterInformation', clusterInformationSpecSchema);
export type ClusterInformation = z.infer<typeof clusterInformationSchema>;

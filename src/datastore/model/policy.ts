/**
 * Policy resources (projectcalico.org/v3): NetworkPolicy, GlobalNetworkPolicy, Profile, Tier,
 * NetworkSet, GlobalNetworkSet, plus Kubernetes' own networking.k8s.io/v1 NetworkPolicy (delivered
 * by the Kubernetes backend only). Rules are validated for structure, selectors and CIDRs; their
 * meaning is the policy layer's job.
 */
import { z } from 'zod';
import { cidrSchema, labelsSchema, nameSchema, resourceSchema, selectorSchema } from './common.js';
import { PROTOCOLS } from './endpoints.js';

export const RULE_ACTIONS = ['Allow', 'Deny', 'Log', 'Pass'] as const;

/** A rule port: a number, a range "lo:hi", or a named port. */
const rulePortSchema = z.union([z.number().int().min(0).max(65535), z.string()]).superRefine((p, ctx) => {
  if (typeof p === 'number') return;
  const m = /^(\d+):(\d+)$/.exec(p);
  if (m) {
    const lo = Number(m[1]), hi = Number(m[2]);
    if (lo > hi || hi > 65535) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(p)} is not a valid port range` });
  } else if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(p) || p.length > 15) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(p)} is neither a port, a range lo:hi nor a port name` });
  }
});
const protocolSchema = z.union([z.enum(PROTOCOLS), z.number().int().min(0).max(255)]);
const icmpSchema = z.looseObject({ type: z.number().int().min(0).max(254).optional(), code: z.number().int().min(0).max(255).optional() });

const entityRuleSchema = z.looseObject({
  nets: z.array(cidrSchema).optional(),
  notNets: z.array(cidrSchema).optional(),
  selector: selectorSchema.optional(),
  notSelector: selectorSchema.optional(),
  namespaceSelector: selectorSchema.optional(),
  ports: z.array(rulePortSchema).optional(),
  notPorts: z.array(rulePortSchema).optional(),
  serviceAccounts: z.looseObject({ names: z.array(z.string()).optional(), selector: selectorSchema.optional() }).optional(),
  services: z.looseObject({ name: z.string(), namespace: z.string().optional() }).optional(),
});

export const ruleSchema = z.looseObject({
  action: z.enum(RULE_ACTIONS),
  ipVersion: z.union([z.literal(4), z.literal(6)]).optional(),
  protocol: protocolSchema.optional(),
  notProtocol: protocolSchema.optional(),
  icmp: icmpSchema.optional(),
  notICMP: icmpSchema.optional(),
  source: entityRuleSchema.optional(),
  destination: entityRuleSchema.optional(),
  metadata: z.looseObject({ annotations: z.record(z.string(), z.string()).optional() }).optional(),
});
export type Rule = z.infer<typeof ruleSchema>;

const POLICY_TYPES = ['Ingress', 'Egress'] as const;
const policyCommon = {
  tier: z.string().optional(),
  order: z.number().optional(),
  selector: selectorSchema.optional(),
  serviceAccountSelector: selectorSchema.optional(),
  types: z.array(z.enum(POLICY_TYPES)).optional(),
  ingress: z.array(ruleSchema).optional(),
  egress: z.array(ruleSchema).optional(),
};

export const networkPolicySpecSchema = z.looseObject(policyCommon);
export const networkPolicySchema = resourceSchema('NetworkPolicy', networkPolicySpecSchema, { namespaced: true });
export type NetworkPolicy = z.infer<typeof networkPolicySchema>;

export const globalNetworkPolicySpecSchema = z
  .looseObject({
    ...policyCommon,
    namespaceSelector: selectorSchema.optional(),
    doNotTrack: z.boolean().optional(),
    preDNAT: z.boolean().optional(),
    applyOnForward: z.boolean().optional(),
  })
  .superRefine((s, ctx) => {
    if (s.doNotTrack && s.preDNAT) ctx.addIssue({ code: 'custom', path: ['preDNAT'], message: 'preDNAT and doNotTrack cannot both be true' });
    if ((s.doNotTrack || s.preDNAT) && s.applyOnForward === false) {
      ctx.addIssue({ code: 'custom', path: ['applyOnForward'], message: 'applyOnForward must be true with doNotTrack or preDNAT' });
    }
  });
export const globalNetworkPolicySchema = resourceSchema('GlobalNetworkPolicy', globalNetworkPolicySpecSchema);
export type GlobalNetworkPolicy = z.infer<typeof globalNetworkPolicySchema>;

export const profileSpecSchema = z.looseObject({
  ingress: z.array(ruleSchema).optional(),
  egress: z.array(ruleSchema).optional(),
  labelsToApply: labelsSchema.optional(),
});
/** Profile names include generated ones such as `kns.default` and `ksa.default.sa`; they are subdomains. */
export const profileSchema = resourceSchema('Profile', profileSpecSchema.optional().default({}), { name: nameSchema });
export type Profile = z.infer<typeof profileSchema>;

export const tierSpecSchema = z.looseObject({
  order: z.number().optional(),
  defaultAction: z.enum(['Deny', 'Pass']).optional(),
});
export const tierSchema = resourceSchema('Tier', tierSpecSchema);
export type Tier = z.infer<typeof tierSchema>;

export const networkSetSpecSchema = z.looseObject({ nets: z.array(cidrSchema).optional() });
export const networkSetSchema = resourceSchema('NetworkSet', networkSetSpecSchema, { namespaced: true });
export type NetworkSet = z.infer<typeof networkSetSchema>;
export const globalNetworkSetSchema = resourceSchema('GlobalNetworkSet', networkSetSpecSchema);
export type GlobalNetworkSet = z.infer<typeof globalNetworkSetSchema>;

// --- Kubernetes networking.k8s.io/v1 NetworkPolicy --------------------------------------------

const labelSelectorSchema = z.looseObject({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z
    .array(z.looseObject({ key: z.string(), operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']), values: z.array(z.string()).optional() }))
    .optional(),
});
const k8sPeerSchema = z.looseObject({
  podSelector: labelSelectorSchema.optional(),
  namespaceSelector: labelSelectorSchema.optional(),
  ipBlock: z.looseObject({ cidr: cidrSchema, except: z.array(cidrSchema).optional() }).optional(),
});
const k8sPortSchema = z.looseObject({
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
  port: z.union([z.number().int().min(1).max(65535), z.string()]).optional(),
  endPort: z.number().int().min(1).max(65535).optional(),
});
export const kubernetesNetworkPolicySpecSchema = z.looseObject({
  podSelector: labelSelectorSchema,
  policyTypes: z.array(z.enum(POLICY_TYPES)).optional(),
  ingress: z.array(z.looseObject({ from: z.array(k8sPeerSchema).optional(), ports: z.array(k8sPortSchema).optional() })).optional(),
  egress: z.array(z.looseObject({ to: z.array(k8sPeerSchema).optional(), ports: z.array(k8sPortSchema).optional() })).optional(),
});
export const kubernetesNetworkPolicySchema = resourceSchema('KubernetesNetworkPolicy', kubernetesNetworkPolicySpecSchema, {
  namespaced: true,
});
export type KubernetesNetworkPolicy = z.infer<typeof kubernetesNetworkPolicySchema>;


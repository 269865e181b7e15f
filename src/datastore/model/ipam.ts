/**
 * IPAM resources as the node agent sees them. In etcd these are libcalico-go *backend model*
 * values, not v3 resources: an AllocationBlock at /calico/ipam/v2/assignment/ipv4/block/<cidr>
 * (fields cidr, affinity "host:<node>", allocations, unallocated, attributes, sequenceNumber, ...)
 * and a BlockAffinity at /calico/ipam/v2/host/<node>/ipv4/block/<cidr> whose value is only
 * {state, deleted}. The Kubernetes datastore keeps the same data as IPAMBlock / BlockAffinity
 * CRDs (spec = the block fields; affinity spec = {node, cidr, state, deleted}). Both backends hand
 * the syncer the CRD shape, so the calc layer sees one model; names follow the CRDs
 * (`10-0-0-0-26`, `<node>-10-0-0-0-26`).
 */
import { z } from 'zod';
import { networkCidrSchema, parseCidr, resourceSchema } from './common.js';

/** CRD name of a block: the CIDR with '.', ':' and '/' replaced by '-' (libcalico-go names.CIDRToName). */
export function cidrToName(cidr: string): string {
  return cidr.replace(/[.:/]/g, '-');
}

export const ipamBlockSpecSchema = z
  .looseObject({
    cidr: networkCidrSchema,
    /** "host:<node>" when the block is affine to a node; null/absent otherwise. */
    affinity: z.string().nullable().optional(),
    allocations: z.array(z.number().int().min(0).nullable()).default([]),
    unallocated: z.array(z.number().int().min(0)).default([]),
    attributes: z
      .array(z.looseObject({ handle_id: z.string().nullable().optional(), secondary: z.record(z.string(), z.string()).nullable().optional() }))
      .nullable()
      .default([]),
    sequenceNumber: z.number().int().min(0).optional(),
    sequenceNumberForAllocation: z.record(z.string(), z.number()).nullable().optional(),
    deleted: z.boolean().default(false),
    strictAffinity: z.boolean().optional(),
  })
  .superRefine((b, ctx) => {
    const c = parseCidr(b.cidr);
    if (!c) return;
    const size = 2 ** ((c.version === 4 ? 32 : 128) - c.prefixLen);
    if (b.allocations.length > size) {
      ctx.addIssue({ code: 'custom', path: ['allocations'], message: `has ${b.allocations.length} entries but the block holds ${size} addresses` });
    }
    if (b.affinity && !b.affinity.startsWith('host:') && !b.affinity.startsWith('virtual:')) {
      ctx.addIssue({ code: 'custom', path: ['affinity'], message: `${JSON.stringify(b.affinity)} is not of the form host:<node>` });
    }
  });
export const ipamBlockSchema = resourceSchema('IPAMBlock', ipamBlockSpecSchema);
export type IPAMBlock = z.infer<typeof ipamBlockSchema>;

/** The node a block is affine to, or undefined. */
export function blockHost(block: IPAMBlock['spec']): string | undefined {
  return block.affinity?.startsWith('host:') ? block.affinity.slice('host:'.length) : undefined;
}

export const BLOCK_AFFINITY_STATES = ['confirmed', 'pending', 'pendingDeletion'] as const;
export const blockAffinitySpecSchema = z.looseObject({
  node: z.string().min(1),
  cidr: networkCidrSchema,
  state: z.enum(BLOCK_AFFINITY_STATES),
  /** A bool in etcd; the CRD declares it a string ("true"/"false") for old-release compatibility. */
  deleted: z
    .union([z.boolean(), z.enum(['true', 'false', ''])])
    .optional()
    .transform((v) => v === true || v === 'true'),
});
export const blockAffinitySchema = resourceSchema('BlockAffinity', blockAffinitySpecSchema);
export type BlockAffinity = z.infer<typeof blockAffinitySchema>;

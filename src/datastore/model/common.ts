/**
 * Building blocks shared by every Calico resource schema: metadata, names, IP addresses and CIDRs,
 * AS numbers, ports, selectors. Each refinement produces a message that names the bad value, so
 * an operator reading `IPPool/default-pool: spec.cidr: "10.0.0.0/33" is not a valid CIDR` knows
 * what to fix.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { checkSelector } from '../selector.js';

/** Calico's API group/version as written in etcd values and YAML. */
export const API_VERSION = 'projectcalico.org/v3';

/** DNS-1123 subdomain (Kubernetes object names): at most 253 characters, lowercase alphanumerics, '-' and '.'. */
export const DNS1123_SUBDOMAIN_MAX = 253;
const DNS1123_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** DNS-1123 label (namespaces): at most 63 characters. */
export const DNS1123_LABEL_MAX = 63;
const DNS1123_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function dns1123SubdomainProblem(s: string): string | undefined {
  if (s.length === 0) return 'must not be empty';
  if (s.length > DNS1123_SUBDOMAIN_MAX) return `is ${s.length} characters long; at most ${DNS1123_SUBDOMAIN_MAX} allowed`;
  if (!DNS1123_SUBDOMAIN_RE.test(s)) return `${JSON.stringify(s)} is not a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)`;
  return undefined;
}

/** Object name (most Calico kinds): a DNS-1123 subdomain. */
export const nameSchema = z.string().superRefine((s, ctx) => {
  const p = dns1123SubdomainProblem(s);
  if (p) ctx.addIssue({ code: 'custom', message: p });
});

export const namespaceSchema = z.string().superRefine((s, ctx) => {
  if (s.length > DNS1123_LABEL_MAX || !DNS1123_LABEL_RE.test(s)) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not a valid namespace (DNS-1123 label, at most ${DNS1123_LABEL_MAX} characters)` });
  }
});

/**
 * WorkloadEndpoint names are built by Calico from node, orchestrator, workload and endpoint
 * (`<node>-k8s-<pod>-<iface>`, '-' doubled inside segments), so they may contain upper-case-free
 * characters in the same class as a subdomain; Calico's validator also allows '_' there.
 */
const WEP_NAME_RE = /^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/;
export const wepNameSchema = z.string().superRefine((s, ctx) => {
  if (s.length === 0 || s.length > DNS1123_SUBDOMAIN_MAX || !WEP_NAME_RE.test(s)) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not a valid WorkloadEndpoint name (lowercase letters, digits, '-', '_' and '.', at most ${DNS1123_SUBDOMAIN_MAX})` });
  }
});

/** Label keys: optional DNS prefix and '/', then a name of at most 63 characters (Kubernetes rules). */
const LABEL_NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
export function labelKeyProblem(k: string): string | undefined {
  const slash = k.lastIndexOf('/');
  const prefix = slash >= 0 ? k.slice(0, slash) : undefined;
  const name = slash >= 0 ? k.slice(slash + 1) : k;
  if (prefix !== undefined && dns1123SubdomainProblem(prefix)) return `label key ${JSON.stringify(k)} has an invalid prefix`;
  if (name.length === 0 || name.length > 63 || !LABEL_NAME_RE.test(name)) return `label key ${JSON.stringify(k)} is invalid`;
  return undefined;
}
export const labelsSchema = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  for (const [k, v] of Object.entries(labels)) {
    const p = labelKeyProblem(k);
    if (p) ctx.addIssue({ code: 'custom', message: p, path: [k] });
    if (v.length > 63 || (v !== '' && !LABEL_NAME_RE.test(v))) {
      ctx.addIssue({ code: 'custom', message: `label value ${JSON.stringify(v)} is invalid (at most 63 alphanumerics, '-', '_', '.')`, path: [k] });
    }
  }
});

/** Standard object metadata; unknown fields (uid, creationTimestamp, ...) are kept as they are. */
export function metadataSchema(name: z.ZodType<string> = nameSchema, namespaced = false) {
  return z.looseObject({
    name,
    namespace: namespaced ? namespaceSchema : z.string().optional(),
    labels: labelsSchema.optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    resourceVersion: z.string().optional(),
    uid: z.string().optional(),
    creationTimestamp: z.union([z.string(), z.null()]).optional(),
  });
}

// --- IP addresses and CIDRs -----------------------------------------------------------------

export interface ParsedCidr {
  version: 4 | 6;
  /** The address as a big integer (v4: 32 bits, v6: 128 bits). */
  addr: bigint;
  prefixLen: number;
  /** Canonical network text, e.g. 10.0.0.0/26. */
  network: string;
}

/** IPv4/IPv6 text to a big integer, or undefined if it is not an address. */
export function ipToBigInt(ip: string): { version: 4 | 6; value: bigint } | undefined {
  if (isIPv4(ip)) {
    return { version: 4, value: ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n) };
  }
  if (!isIPv6(ip)) return undefined;
  let s = ip;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const n = ipToBigInt(v4[1]!)!.value;
    s = s.slice(0, -v4[1]!.length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill('0');
  const parts = [...h, ...fill, ...t];
  return { version: 6, value: parts.reduce((acc, p) => (acc << 16n) | BigInt(parseInt(p, 16)), 0n) };
}

export function bigIntToIp(version: 4 | 6, v: bigint): string {
  if (version === 4) return [24n, 16n, 8n, 0n].map((s) => Number((v >> s) & 0xffn)).join('.');
  const hextets: string[] = [];
  for (let i = 7; i >= 0; i--) hextets.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero hextets (RFC 5952).
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (hextets[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && hextets[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return hextets.join(':');
  return `${hextets.slice(0, best).join(':')}::${hextets.slice(best + bestLen).join(':')}`;
}

/** Parses `addr/len`; undefined when it is not a CIDR. Host bits are reported by the caller. */
export function parseCidr(s: string): (ParsedCidr & { hostBitsSet: boolean }) | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = ipToBigInt(s.slice(0, slash));
  const lenText = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(lenText)) return undefined;
  const prefixLen = Number(lenText);
  const bits = ip.version === 4 ? 32 : 128;
  if (prefixLen > bits) return undefined;
  const hostMask = (1n << BigInt(bits - prefixLen)) - 1n;
  const net = ip.value & ~hostMask;
  return {
    version: ip.version,
    addr: ip.value,
    prefixLen,
    network: `${bigIntToIp(ip.version, net)}/${prefixLen}`,
    hostBitsSet: (ip.value & hostMask) !== 0n,
  };
}

/** A network CIDR: valid, and no host bits set (IPPool, IPAM block). */
export const networkCidrSchema = z.string().superRefine((s, ctx) => {
  const c = parseCidr(s);
  if (!c) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not a valid CIDR` });
  else if (c.hostBitsSet) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} has host bits set (did you mean ${c.network}?)` });
});

/** Any CIDR, host bits allowed (policy nets, NetworkSet nets). A bare address counts as /32 or /128. */
export const cidrSchema = z.string().superRefine((s, ctx) => {
  if (!parseCidr(s) && !ipToBigInt(s)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not a valid CIDR` });
});

/** An interface address in CIDR form (Node spec.bgp.ipv4Address: `10.0.0.1/24`), of one IP version. */
export function addrCidrSchema(version: 4 | 6) {
  return z.string().superRefine((s, ctx) => {
    const c = parseCidr(s) ?? (ipToBigInt(s) ? parseCidr(`${s}/${version === 4 ? 32 : 128}`) : undefined);
    if (!c || c.version !== version) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not a valid IPv${version} address or CIDR` });
  });
}

export function ipSchema(version?: 4 | 6) {
  return z.string().superRefine((s, ctx) => {
    const ip = ipToBigInt(s);
    if (!ip || (version && ip.version !== version)) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not a valid IPv${version ?? '4 or IPv6'} address` });
    }
  });
}

// --- Numbers and enums -----------------------------------------------------------------------

/**
 * 4-byte AS number (RFC 6793). Calico accepts a plain number or asdot `X.Y` in YAML; etcd stores
 * the number. Range 0..4294967295.
 */
export const AS_NUMBER_MAX = 4294967295;
export const asNumberSchema = z.union([z.number(), z.string()]).transform((v, ctx) => {
  let n: number | undefined;
  if (typeof v === 'number') n = v;
  else if (/^\d+$/.test(v)) n = Number(v);
  else {
    const m = /^(\d+)\.(\d+)$/.exec(v);
    if (m && Number(m[1]) <= 0xffff && Number(m[2]) <= 0xffff) n = Number(m[1]) * 65536 + Number(m[2]);
  }
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > AS_NUMBER_MAX) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a valid AS number (0-${AS_NUMBER_MAX} or asdot X.Y)` });
    return z.NEVER;
  }
  return n;
});

export const portSchema = z.number().int().min(1, 'port must be 1-65535').max(65535, 'port must be 1-65535');

/** A selector string that must parse with Calico's selector grammar. */
export const selectorSchema = z.string().superRefine((s, ctx) => {
  const problem = checkSelector(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** Encapsulation modes of an IPPool (ipipMode, vxlanMode). */
export const ENCAP_MODES = ['Never', 'Always', 'CrossSubnet'] as const;
export type EncapMode = (typeof ENCAP_MODES)[number];
/** Calico treats an empty mode as the default, Never. */
export const encapModeSchema = z
  .enum(['', ...ENCAP_MODES], { error: (i) => `${JSON.stringify(i.input)} is not one of ${ENCAP_MODES.join(', ')}` })
  .transform((v): EncapMode => (v === '' ? 'Never' : v))
  .default('Never');

/** Builds the outer schema of a Calico v3 resource of `kind`. */
export function resourceSchema<K extends string, S extends z.ZodType>(
  kind: K,
  spec: S,
  opts: { name?: z.ZodType<string>; namespaced?: boolean; apiVersion?: string } = {},
) {
  return z.looseObject({
    apiVersion: z.string().optional(),
    kind: z.literal(kind, { error: (i) => `kind is ${JSON.stringify(i.input)}, expected ${kind}` }),
    metadata: metadataSchema(opts.name, opts.namespaced ?? false),
    spec,
  });
}

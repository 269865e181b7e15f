/**
 * Mapping between Calico's etcd key layout and the model: which key prefix holds a scope, how an
 * etcd key becomes a canonical key, and how a stored value becomes the v3 / CRD shape the syncer
 * validates. v3 resources are stored as the resource JSON; IPAM blocks and affinities as
 * libcalico-go backend-model JSON (see model/ipam.ts), converted here.
 */
import { IPAM_PREFIX, RESOURCE_PREFIX } from '../keys.js';
import { API_VERSION, canonicalKey, cidrToName, KINDS, type ResourceKind } from '../model/index.js';
import type { BackendItem, ResourceScope } from '../types.js';

const BLOCK_PREFIX = `${IPAM_PREFIX}assignment/`;
const AFFINITY_PREFIX = `${IPAM_PREFIX}host/`;
/** ipv4 or ipv6, then `block/`, then the CIDR with its '/' written as '-' (libcalico-go model). */
const BLOCK_RE = /^ipv[46]\/block\/([^/]+)$/;
const AFFINITY_RE = /^([^/]+)\/ipv[46]\/block\/([^/]+)$/;

/** The etcd key prefix holding a scope. */
export function scopePrefix(scope: ResourceScope): string {
  switch (scope.kind) {
    case 'IPAMBlock':
      return BLOCK_PREFIX;
    case 'BlockAffinity':
      return scope.node ? `${AFFINITY_PREFIX}${scope.node}/` : AFFINITY_PREFIX;
    case 'KubernetesNetworkPolicy':
      throw new Error('KubernetesNetworkPolicy exists only in the Kubernetes datastore');
    default:
      return `${RESOURCE_PREFIX}${KINDS[scope.kind].plural}/`;
  }
}

/** `10.0.0.0-26` (key form) → `10.0.0.0/26`: the first '-' is the separator (IPv6 has no '-'). */
function keyCidr(s: string): string {
  return s.replace('-', '/');
}

/**
 * Canonical key of an etcd key in a scope's prefix, with the identity parts needed to build the
 * value. Undefined when the key does not follow Calico's layout (reported as a decode error).
 */
export function parseEtcdKey(
  kind: ResourceKind,
  key: string,
): { key: string; name: string; namespace?: string; node?: string; cidr?: string } | undefined {
  if (kind === 'IPAMBlock') {
    const m = BLOCK_RE.exec(key.slice(BLOCK_PREFIX.length));
    if (!key.startsWith(BLOCK_PREFIX) || !m) return undefined;
    const cidr = keyCidr(m[1]!);
    const name = cidrToName(cidr);
    return { key: canonicalKey(kind, name), name, cidr };
  }
  if (kind === 'BlockAffinity') {
    const m = AFFINITY_RE.exec(key.slice(AFFINITY_PREFIX.length));
    if (!key.startsWith(AFFINITY_PREFIX) || !m) return undefined;
    const cidr = keyCidr(m[2]!);
    const name = `${m[1]!}-${cidrToName(cidr)}`;
    return { key: canonicalKey(kind, name), name, node: m[1]!, cidr };
  }
  const prefix = `${RESOURCE_PREFIX}${KINDS[kind].plural}/`;
  if (!key.startsWith(prefix)) return undefined;
  const parts = key.slice(prefix.length).split('/');
  if (KINDS[kind].namespaced) {
    if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
    return { key: canonicalKey(kind, parts[1], parts[0]), name: parts[1], namespace: parts[0] };
  }
  if (parts.length !== 1 || !parts[0]) return undefined;
  return { key: canonicalKey(kind, parts[0]), name: parts[0] };
}

/** Canonical key for an etcd key, falling back to `<Kind>/<raw suffix>` for keys off the layout. */
export function canonicalKeyOf(kind: ResourceKind, etcdKey: string, prefix: string): string {
  return parseEtcdKey(kind, etcdKey)?.key ?? `${kind}/${etcdKey.slice(prefix.length)}`;
}

/**
 * Decodes one stored value into a BackendItem. The etcd key is authoritative for identity (as in
 * libcalico-go): metadata.name/namespace are taken from it, and resourceVersion is the
 * mod_revision.
 */
export function decodeEtcdValue(kind: ResourceKind, prefix: string, etcdKey: string, raw: string, modRevision: string): BackendItem {
  return new LazyEtcdItem(kind, prefix, etcdKey, raw, modRevision);
}

/**
 * A listed value that is decoded only when the syncer reads it, and not kept decoded: between the
 * etcd response and validation only the compact JSON string is held, never a parsed tree next to
 * its validated copy. (Measured effect on bench/datastore-sync.ts: faster initial sync, less GC;
 * peak RSS was dominated by holding whole lists, fixed by listPages.)
 */
class LazyEtcdItem implements BackendItem {
  readonly key: string;
  constructor(
    readonly kind: ResourceKind,
    private readonly prefix: string,
    private readonly etcdKey: string,
    private readonly raw: string,
    readonly revision: string,
  ) {
    this.key = canonicalKeyOf(kind, etcdKey, prefix);
  }
  get value(): unknown {
    return decodeEtcdValueNow(this.kind, this.prefix, this.etcdKey, this.raw, this.revision).value;
  }
  get decodeError(): string | undefined {
    return decodeEtcdValueNow(this.kind, this.prefix, this.etcdKey, this.raw, this.revision).decodeError;
  }
}

/** Eager decoding (see decodeEtcdValue). */
export function decodeEtcdValueNow(kind: ResourceKind, prefix: string, etcdKey: string, raw: string, modRevision: string): BackendItem {
  const id = parseEtcdKey(kind, etcdKey);
  if (!id) {
    return { key: canonicalKeyOf(kind, etcdKey, prefix), kind, revision: modRevision, decodeError: `etcd key ${etcdKey} does not follow Calico's layout` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    return { key: id.key, kind, revision: modRevision, decodeError: `value at ${etcdKey} is not JSON: ${(e as Error).message}` };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { key: id.key, kind, revision: modRevision, decodeError: `value at ${etcdKey} is not a JSON object` };
  }
  const obj = parsed as Record<string, unknown>;
  if (kind === 'IPAMBlock') {
    const value = { apiVersion: API_VERSION, kind, metadata: { name: id.name, resourceVersion: modRevision }, spec: obj };
    return { key: id.key, kind, revision: modRevision, value };
  }
  if (kind === 'BlockAffinity') {
    const value = {
      apiVersion: API_VERSION,
      kind,
      metadata: { name: id.name, resourceVersion: modRevision },
      spec: { ...obj, node: id.node, cidr: id.cidr },
    };
    return { key: id.key, kind, revision: modRevision, value };
  }
  const md = obj.metadata !== null && typeof obj.metadata === 'object' && !Array.isArray(obj.metadata) ? (obj.metadata as Record<string, unknown>) : {};
  const metadata: Record<string, unknown> = { ...md, name: id.name, resourceVersion: modRevision };
  if (id.namespace) metadata.namespace = id.namespace;
  return { key: id.key, kind, revision: modRevision, value: { ...obj, metadata } };
}

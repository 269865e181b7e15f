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
 * The part of every key of `kind` that precedes the identity (a scope's prefix extends it: the
 * BGP syncer's BlockAffinity scope adds `<node>/`).
 */
export function kindPrefix(kind: ResourceKind): string {
  switch (kind) {
    case 'IPAMBlock':
      return BLOCK_PREFIX;
    case 'BlockAffinity':
      return AFFINITY_PREFIX;
    default:
      return `${RESOURCE_PREFIX}${KINDS[kind].plural}/`;
  }
}

/** Identity of a stored resource, from its etcd key. */
export interface EtcdIdentity {
  key: string;
  name: string;
  namespace?: string;
  node?: string;
  cidr?: string;
}

/**
 * Canonical key of an etcd key in a scope's prefix, with the identity parts needed to build the
 * value. Undefined when the key does not follow Calico's layout (reported as a decode error).
 */
export function parseEtcdKey(kind: ResourceKind, key: string): EtcdIdentity | undefined {
  const base = kindPrefix(kind);
  return key.startsWith(base) ? parseKeyRest(kind, key.slice(base.length)) : undefined;
}

/**
 * parseEtcdKey on the part of the key after `kindPrefix(kind)`. The identity strings are slices of
 * `rest`, so when the caller decodes `rest` on its own (backend.ts does, from the key's bytes) a
 * resource held for hours pins ~40 bytes of key text rather than the whole ~110-byte etcd key.
 */
export function parseKeyRest(kind: ResourceKind, rest: string): EtcdIdentity | undefined {
  if (kind === 'IPAMBlock') {
    const m = BLOCK_RE.exec(rest);
    if (!m) return undefined;
    const cidr = keyCidr(m[1]!);
    const name = cidrToName(cidr);
    return { key: canonicalKey(kind, name), name, cidr };
  }
  if (kind === 'BlockAffinity') {
    const m = AFFINITY_RE.exec(rest);
    if (!m) return undefined;
    const cidr = keyCidr(m[2]!);
    const name = `${m[1]!}-${cidrToName(cidr)}`;
    return { key: canonicalKey(kind, name), name, node: m[1]!, cidr };
  }
  const slash = rest.indexOf('/');
  if (KINDS[kind].namespaced) {
    // `<ns>/<name>`: the canonical key is `<Kind>/` + the rest itself.
    if (slash <= 0 || slash === rest.length - 1 || rest.indexOf('/', slash + 1) !== -1) return undefined;
    return { key: `${kind}/${rest}`, name: rest.slice(slash + 1), namespace: rest.slice(0, slash) };
  }
  if (slash !== -1 || !rest) return undefined;
  return { key: `${kind}/${rest}`, name: rest };
}

/** Canonical key for an etcd key, falling back to `<Kind>/<raw suffix>` for keys off the layout. */
export function canonicalKeyOf(kind: ResourceKind, etcdKey: string, prefix: string): string {
  return parseEtcdKey(kind, etcdKey)?.key ?? `${kind}/${etcdKey.slice(prefix.length)}`;
}

/**
 * Canonical key of a key etcd returned for a scope (as bytes). Only the part after the kind's
 * prefix is decoded, so the key string kept for the resource's lifetime shares nothing with a
 * ~110-byte full-key string (see parseKeyRest).
 */
export function canonicalKeyOfBytes(kind: ResourceKind, etcdKey: Buffer, scopePrefixText: string): string {
  const rest = keyRest(kind, etcdKey);
  if (rest === undefined) return canonicalKeyOf(kind, etcdKey.toString(), scopePrefixText);
  return parseKeyRest(kind, rest)?.key ?? offLayoutKey(kind, rest, scopePrefixText);
}

/**
 * Decodes one stored value into a BackendItem. The etcd key is authoritative for identity (as in
 * libcalico-go): metadata.name/namespace are taken from it, and resourceVersion is the
 * mod_revision.
 */
export function decodeEtcdValue(kind: ResourceKind, prefix: string, etcdKey: string, raw: string, modRevision: string): BackendItem {
  const base = kindPrefix(kind);
  if (!etcdKey.startsWith(base)) {
    return { key: canonicalKeyOf(kind, etcdKey, prefix), kind, revision: modRevision, decodeError: `etcd key ${etcdKey} does not follow Calico's layout` };
  }
  return new LazyEtcdItem(kind, prefix, etcdKey.slice(base.length), raw, modRevision);
}

/** decodeEtcdValue for a key and value as etcd returned them (the backend's path). */
export function decodeEtcdKv(kind: ResourceKind, scopePrefixText: string, etcdKey: Buffer, value: Buffer, modRevision: string): BackendItem {
  const rest = keyRest(kind, etcdKey);
  if (rest === undefined) return decodeEtcdValue(kind, scopePrefixText, etcdKey.toString(), value.toString(), modRevision);
  return new LazyEtcdItem(kind, scopePrefixText, rest, value.toString(), modRevision);
}

/** The key after `kindPrefix(kind)`, decoded on its own; undefined if the key lacks that prefix. */
function keyRest(kind: ResourceKind, etcdKey: Buffer): string | undefined {
  const base = kindPrefix(kind);
  // Prefixes are ASCII, so their length in bytes is their length in characters.
  if (etcdKey.length < base.length || etcdKey.toString('latin1', 0, base.length) !== base) return undefined;
  return etcdKey.toString('utf8', base.length);
}

/** Canonical key of an off-layout key: `<Kind>/<key after the scope prefix>` (as canonicalKeyOf). */
function offLayoutKey(kind: ResourceKind, rest: string, scopePrefixText: string): string {
  return `${kind}/${rest.slice(scopePrefixText.length - kindPrefix(kind).length)}`;
}

/**
 * A listed value that is decoded only when the syncer reads it, and not kept decoded: between the
 * etcd response and validation only the compact JSON string is held, never a parsed tree next to
 * its validated copy. (Measured effect on bench/datastore-sync.ts: faster initial sync, less GC;
 * peak RSS was dominated by holding whole lists, fixed by listPages.)
 */
class LazyEtcdItem implements BackendItem {
  readonly key: string;
  private readonly id: EtcdIdentity | undefined;
  constructor(
    readonly kind: ResourceKind,
    scopePrefixText: string,
    /** The key after kindPrefix(kind). */
    private readonly rest: string,
    private readonly raw: string,
    readonly revision: string,
  ) {
    this.id = parseKeyRest(kind, rest);
    this.key = this.id?.key ?? offLayoutKey(kind, rest, scopePrefixText);
  }
  get value(): unknown {
    return this.decode().value;
  }
  get decodeError(): string | undefined {
    return this.decode().decodeError;
  }
  private decode(): { value?: unknown; decodeError?: string } {
    if (!this.id) return { decodeError: `etcd key ${kindPrefix(this.kind)}${this.rest} does not follow Calico's layout` };
    return decodeValue(this.kind, this.id, this.raw, this.revision, () => `${kindPrefix(this.kind)}${this.rest}`);
  }
}

/** Eager decoding (see decodeEtcdValue). */
export function decodeEtcdValueNow(kind: ResourceKind, prefix: string, etcdKey: string, raw: string, modRevision: string): BackendItem {
  const id = parseEtcdKey(kind, etcdKey);
  if (!id) {
    return { key: canonicalKeyOf(kind, etcdKey, prefix), kind, revision: modRevision, decodeError: `etcd key ${etcdKey} does not follow Calico's layout` };
  }
  return { key: id.key, kind, revision: modRevision, ...decodeValue(kind, id, raw, modRevision, () => etcdKey) };
}

/** The stored JSON of a resource with identity `id` in the v3 / CRD shape, or why it cannot be. */
function decodeValue(kind: ResourceKind, id: EtcdIdentity, raw: string, modRevision: string, etcdKey: () => string): { value?: unknown; decodeError?: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    return { decodeError: `value at ${etcdKey()} is not JSON: ${(e as Error).message}` };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { decodeError: `value at ${etcdKey()} is not a JSON object` };
  }
  const obj = parsed as Record<string, unknown>;
  if (kind === 'IPAMBlock') {
    return { value: { apiVersion: API_VERSION, kind, metadata: { name: id.name, resourceVersion: modRevision }, spec: obj } };
  }
  if (kind === 'BlockAffinity') {
    return {
      value: {
        apiVersion: API_VERSION,
        kind,
        metadata: { name: id.name, resourceVersion: modRevision },
        spec: { ...obj, node: id.node, cidr: id.cidr },
      },
    };
  }
  const md = obj.metadata !== null && typeof obj.metadata === 'object' && !Array.isArray(obj.metadata) ? (obj.metadata as Record<string, unknown>) : {};
  const metadata: Record<string, unknown> = { ...md, name: id.name, resourceVersion: modRevision };
  if (id.namespace) metadata.namespace = id.namespace;
  return { value: { ...obj, metadata } };
}

/**
 * Attribute interning. A full table from one peer has a handful of distinct attribute sets shared
 * by up to millions of prefixes (an UPDATE carries one set for up to hundreds of NLRI), so every
 * path points at one frozen, shared `AttrSet` instead of owning a copy. BIRD (`rta_lookup`) and
 * GoBGP (`PathAttributes` cache) do the same. The key is a canonical text encoding computed once
 * per set, which also makes "same attributes?" a pointer comparison everywhere else.
 *
 * Sets are reference counted by the paths and Adj-RIB-Out entries that hold them, and dropped
 * from the store when the last one lets go, so churn does not leak.
 */
import type { AsPathSegment, PathAttributes } from '../wire/types.js';
import type { Path } from './path.js';

export interface AttrSet {
  /** Canonical encoding; equal keys mean equal attributes. */
  readonly key: string;
  /** Deep-frozen attributes, shared: never mutate. */
  readonly value: Readonly<PathAttributes>;
  /** Uses (a path placed in the table, an Adj-RIB-Out entry). Maintained by AttrStore only. */
  refs: number;
  /**
   * Shared immutable paths with these received attributes (see path.ts): a full table from one
   * peer is a million prefixes pointing at one of these instead of a million path objects.
   */
  flyweights: Path[] | undefined;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function asPathKey(path: readonly AsPathSegment[]): string {
  let s = '';
  for (const seg of path) s += `${seg.type}:${seg.asns.join(' ')};`;
  return s;
}

/**
 * Canonical key of an attribute set. Field order is fixed; list order is kept because it is
 * meaningful on the wire (AS_PATH, CLUSTER_LIST) or harmless (communities as received). Each
 * field is tagged so an absent field never collides with an empty one.
 */
export function attrsKey(a: Readonly<PathAttributes>): string {
  let k = '';
  if (a.origin !== undefined) k += `o${a.origin}`;
  if (a.asPath !== undefined) k += `|p${asPathKey(a.asPath)}`;
  if (a.nextHop !== undefined) k += `|n${a.nextHop}`;
  if (a.med !== undefined) k += `|m${a.med}`;
  if (a.localPref !== undefined) k += `|l${a.localPref}`;
  if (a.atomicAggregate) k += '|A';
  if (a.aggregator !== undefined) k += `|g${a.aggregator.asn}@${a.aggregator.address}`;
  if (a.communities !== undefined) k += `|c${a.communities.join(',')}`;
  if (a.extendedCommunities !== undefined) k += `|x${a.extendedCommunities.map(hex).join(',')}`;
  if (a.largeCommunities !== undefined)
    k += `|L${a.largeCommunities.map((c) => `${c.globalAdmin}:${c.localData1}:${c.localData2}`).join(',')}`;
  if (a.originatorId !== undefined) k += `|O${a.originatorId}`;
  if (a.clusterList !== undefined) k += `|C${a.clusterList.join(',')}`;
  if (a.unknown !== undefined) k += `|u${a.unknown.map((u) => `${u.type}/${u.flags}/${hex(u.value)}`).join(',')}`;
  return k;
}

/** A deep copy with only the defined fields, frozen. Copying detaches us from decoder buffers. */
function freezeCopy(a: Readonly<PathAttributes>): Readonly<PathAttributes> {
  const out: PathAttributes = {};
  if (a.origin !== undefined) out.origin = a.origin;
  if (a.asPath !== undefined)
    out.asPath = Object.freeze(a.asPath.map((s) => Object.freeze({ type: s.type, asns: Object.freeze([...s.asns]) }))) as AsPathSegment[];
  if (a.nextHop !== undefined) out.nextHop = a.nextHop;
  if (a.med !== undefined) out.med = a.med;
  if (a.localPref !== undefined) out.localPref = a.localPref;
  if (a.atomicAggregate) out.atomicAggregate = true;
  if (a.aggregator !== undefined) out.aggregator = Object.freeze({ ...a.aggregator });
  if (a.communities !== undefined) out.communities = Object.freeze([...a.communities]) as number[];
  if (a.extendedCommunities !== undefined)
    out.extendedCommunities = Object.freeze(a.extendedCommunities.map((b) => new Uint8Array(b))) as Uint8Array[];
  if (a.largeCommunities !== undefined)
    out.largeCommunities = Object.freeze(a.largeCommunities.map((c) => Object.freeze({ ...c }))) as PathAttributes['largeCommunities'];
  if (a.originatorId !== undefined) out.originatorId = a.originatorId;
  if (a.clusterList !== undefined) out.clusterList = Object.freeze([...a.clusterList]) as string[];
  if (a.unknown !== undefined)
    out.unknown = Object.freeze(
      a.unknown.map((u) => Object.freeze({ flags: u.flags, type: u.type, value: new Uint8Array(u.value) })),
    ) as PathAttributes['unknown'];
  return Object.freeze(out);
}

export class AttrStore {
  private readonly sets = new Map<string, AttrSet>();
  /** Last object interned and its set: an UPDATE's NLRI share one object, so this hits often. */
  private lastInput: Readonly<PathAttributes> | undefined;
  private lastSet: AttrSet | undefined;
  /** Frozen values we handed out, so re-interning one of them skips the key computation. */
  private readonly byValue = new WeakMap<object, AttrSet>();

  get size(): number {
    return this.sets.size;
  }

  /** Returns the shared set for `attrs` with one more reference taken. */
  acquire(attrs: Readonly<PathAttributes>): AttrSet {
    const set = this.find(attrs);
    set.refs++;
    return set;
  }

  /** Adds a reference to a set the caller already holds one of. */
  retain(set: AttrSet): AttrSet {
    set.refs++;
    return set;
  }

  release(set: AttrSet): void {
    if (--set.refs === 0 && this.sets.get(set.key) === set) this.sets.delete(set.key);
  }

  private find(attrs: Readonly<PathAttributes>): AttrSet {
    if (attrs === this.lastInput && this.lastSet && this.lastSet.refs > 0) return this.lastSet;
    const known = this.byValue.get(attrs);
    if (known && this.sets.get(known.key) === known) return known;
    const key = attrsKey(attrs);
    let set = this.sets.get(key);
    if (!set) {
      const value = freezeCopy(attrs);
      set = { key, value, refs: 0, flyweights: undefined };
      this.sets.set(key, set);
      this.byValue.set(value, set);
    }
    this.lastInput = attrs;
    this.lastSet = set;
    return set;
  }
}

// ---------------------------------------------------------------- attribute helpers

/** RFC 4271 §9.1.2.2 a: AS_SEQUENCE counts its ASes, AS_SET counts 1, confederation segments 0. */
export function asPathLength(path: readonly AsPathSegment[] | undefined): number {
  if (!path) return 0;
  let n = 0;
  for (const seg of path) {
    if (seg.type === 2) n += seg.asns.length;
    else if (seg.type === 1) n += 1;
  }
  return n;
}

/**
 * RFC 4271 §9.1.2.2 c: the neighbouring AS is the first AS of the path; a path with no AS
 * sequence at its start (our own AS's routes, iBGP-originated) belongs to our AS.
 */
export function neighbourAs(path: readonly AsPathSegment[] | undefined, localAs: number): number {
  if (path) {
    for (const seg of path) {
      if (seg.type === 2 && seg.asns.length > 0) return seg.asns[0]!;
      if (seg.type === 3 || seg.type === 4) continue;
      break;
    }
  }
  return localAs;
}

/** How many times `asn` appears anywhere in the AS_PATH. */
export function asPathCount(path: readonly AsPathSegment[] | undefined, asn: number): number {
  if (!path) return 0;
  let n = 0;
  for (const seg of path) for (const a of seg.asns) if (a === asn) n++;
  return n;
}

/** AS_PATH with `asn` prepended to the leading AS_SEQUENCE (a new one if needed, max 255 per segment). */
export function prependAs(path: readonly AsPathSegment[] | undefined, asn: number): AsPathSegment[] {
  const segs = path ?? [];
  const first = segs[0];
  if (first && first.type === 2 && first.asns.length < 255) {
    return [{ type: 2, asns: [asn, ...first.asns] }, ...segs.slice(1)];
  }
  return [{ type: 2, asns: [asn] }, ...segs];
}

/**
 * Building policies out of small pieces: accept/reject, sequencing, conditionals, and the
 * matchers and attribute actions Calico's export rules need. Every action returns a new
 * attributes object and never mutates its input (attribute sets are shared, see rib/attrs.ts);
 * an action that would change nothing returns its input, so the RIB keeps the shared set.
 */
import { asPathCount } from '../rib/attrs.js';
import type { LargeCommunity, PathAttributes } from '../wire/types.js';
import type { Policy, RouteMatcher } from './types.js';

export const acceptAll: Policy = (_prefix, attrs) => attrs;
export const rejectAll: Policy = () => null;

/** Runs policies in order, each on the previous one's output; the first reject wins. */
export function chain(...policies: Policy[]): Policy {
  if (policies.length === 0) return acceptAll;
  if (policies.length === 1) return policies[0]!;
  return (prefix, attrs, ctx) => {
    let a: Readonly<PathAttributes> | null = attrs;
    for (const p of policies) {
      a = p(prefix, a, ctx);
      if (a === null) return null;
    }
    return a;
  };
}

/** `then` when the route matches, else `otherwise` (default: accept unchanged). */
export function when(match: RouteMatcher, then: Policy, otherwise: Policy = acceptAll): Policy {
  return (prefix, attrs, ctx) => (match(prefix, attrs, ctx) ? then(prefix, attrs, ctx) : otherwise(prefix, attrs, ctx));
}

/** Accept (unchanged) only routes that match; reject the rest. */
export function acceptIf(match: RouteMatcher): Policy {
  return (prefix, attrs, ctx) => (match(prefix, attrs, ctx) ? attrs : null);
}

/** Reject routes that match; leave the rest unchanged. */
export function rejectIf(match: RouteMatcher): Policy {
  return (prefix, attrs, ctx) => (match(prefix, attrs, ctx) ? null : attrs);
}

// ---------------------------------------------------------------- matchers

export function not(m: RouteMatcher): RouteMatcher {
  return (prefix, attrs, ctx) => !m(prefix, attrs, ctx);
}

export function allOf(...ms: RouteMatcher[]): RouteMatcher {
  return (prefix, attrs, ctx) => ms.every((m) => m(prefix, attrs, ctx));
}

export function anyOf(...ms: RouteMatcher[]): RouteMatcher {
  return (prefix, attrs, ctx) => ms.some((m) => m(prefix, attrs, ctx));
}

/** Export: the route is one we originated (Calico: our blocks, service CIDRs). */
export const isLocal: RouteMatcher = (_prefix, _attrs, ctx) => ctx.source === null;

/** The route was learned over iBGP (export) / the session is iBGP (import). */
export const fromIbgp: RouteMatcher = (_prefix, _attrs, ctx) =>
  ctx.direction === 'export' ? ctx.source != null && ctx.source.ibgp : ctx.peer.ibgp;

/** Our AS appears in the AS_PATH more than `allowed` times (RFC 4271 §9.1.2 loop check). */
export function asPathLoop(asn: number, allowed = 0): RouteMatcher {
  return (_prefix, attrs) => asPathCount(attrs.asPath, asn) > allowed;
}

export function hasCommunity(c: number): RouteMatcher {
  return (_prefix, attrs) => attrs.communities?.includes(c) ?? false;
}

// ---------------------------------------------------------------- actions

function sameLarge(a: LargeCommunity, b: LargeCommunity): boolean {
  return a.globalAdmin === b.globalAdmin && a.localData1 === b.localData1 && a.localData2 === b.localData2;
}

/** Adds RFC 1997 communities (kept unique, in first-seen order). */
export function addCommunities(cs: readonly number[]): Policy {
  return (_prefix, attrs) => {
    const have = attrs.communities ?? [];
    const add = cs.filter((c, i) => !have.includes(c) && cs.indexOf(c) === i);
    return add.length === 0 ? attrs : { ...attrs, communities: [...have, ...add] };
  };
}

/** Adds RFC 8092 large communities (kept unique). */
export function addLargeCommunities(cs: readonly LargeCommunity[]): Policy {
  return (_prefix, attrs) => {
    const have = attrs.largeCommunities ?? [];
    const add: LargeCommunity[] = [];
    for (const c of cs) if (!have.some((h) => sameLarge(h, c)) && !add.some((h) => sameLarge(h, c))) add.push(c);
    return add.length === 0 ? attrs : { ...attrs, largeCommunities: [...have, ...add] };
  };
}

/** Sets LOCAL_PREF (RFC 4271 §5.1.5: meaningful on import and on iBGP export). */
export function setLocalPref(n: number): Policy {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`LOCAL_PREF ${n} is not a 32-bit unsigned integer`);
  return (_prefix, attrs) => (attrs.localPref === n ? attrs : { ...attrs, localPref: n });
}

/** Sets MULTI_EXIT_DISC. */
export function setMed(n: number): Policy {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`MED ${n} is not a 32-bit unsigned integer`);
  return (_prefix, attrs) => (attrs.med === n ? attrs : { ...attrs, med: n });
}

/**
 * Datastore revisions are decimal strings (etcd's int64 mod_revision, Kubernetes resourceVersion,
 * which is etcd's revision underneath). They exceed 2^53 in principle, so compare them as BigInt.
 * A revision that is not a decimal number (a Kubernetes implementation is allowed to use opaque
 * versions) compares only for equality.
 */
const DECIMAL = /^\d+$/;

/** <0, 0, >0 like a comparator; NaN when the two cannot be ordered (opaque and different). */
export function compareRevisions(a: string, b: string): number {
  if (a === b) return 0;
  if (DECIMAL.test(a) && DECIMAL.test(b)) {
    const x = BigInt(a), y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return NaN;
}

/** True when `candidate` is known to be no newer than `seen` (so it is a duplicate or stale). */
export function isNotNewer(candidate: string, seen: string): boolean {
  const c = compareRevisions(candidate, seen);
  return c <= 0;
}

export function maxRevision(a: string, b: string): string {
  return compareRevisions(a, b) < 0 ? b : a;
}

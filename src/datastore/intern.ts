/**
 * String interning for stored resources. A cluster's resources repeat the same short strings
 * endlessly — `k8s`, `eth0`, `TCP`, namespace, node and profile names, label keys and values — and
 * JSON.parse gives every occurrence its own heap string. Replacing each short string by one shared
 * instance cut the syncer's heap by about a third for 100,000 WorkloadEndpoints
 * (bench/datastore-sync.ts).
 */

/** Only short strings repeat; long ones (certificates, big annotations) are rarely shared. */
const INTERN_MAX_LENGTH = 64;
/** Bound on the table so hostile or very diverse data cannot grow it without limit. */
const INTERN_TABLE_MAX = 200_000;

const table = new Map<string, string>();

export function intern(s: string): string {
  if (s.length > INTERN_MAX_LENGTH) return s;
  const hit = table.get(s);
  if (hit !== undefined) return hit;
  if (table.size >= INTERN_TABLE_MAX) table.clear();
  table.set(s, s);
  return s;
}

/** Interns every short string value in a JSON-like tree, in place; returns the same tree. */
export function internTree<T>(v: T): T {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === 'string') v[i] = intern(x);
      else if (x !== null && typeof x === 'object') internTree(x);
    }
  } else if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const k in o) {
      const x = o[k];
      if (typeof x === 'string') o[k] = intern(x);
      else if (x !== null && typeof x === 'object') internTree(x);
    }
  }
  return v;
}

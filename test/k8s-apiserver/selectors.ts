/**
 * Label and field selectors for the test API server, enough of apimachinery's grammar for what
 * clients send in practice: label `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`;
 * field `path=v`, `path==v`, `path!=v` over dotted paths (`spec.nodeName`, `metadata.name`).
 * Terms are ANDed. A malformed selector is a 400, as on the real server.
 */
import { StoreError, type KubeObject } from './store.js';

export type Matcher = (obj: KubeObject) => boolean;

const matchAll: Matcher = () => true;

/** Splits on commas that are not inside parentheses. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

export function parseLabelSelector(sel: string | null): Matcher {
  if (!sel) return matchAll;
  const terms = splitTerms(sel).map((t): Matcher => {
    let m: RegExpMatchArray | null;
    if ((m = t.match(/^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      const [, key, op, vals] = m;
      const set = new Set(vals.split(',').map((v) => v.trim()));
      return (o) => {
        const v = o.metadata.labels?.[key];
        return op === 'in' ? v !== undefined && set.has(v) : v === undefined || !set.has(v);
      };
    }
    if ((m = t.match(/^([\w./-]+)\s*(==|!=|=)\s*([\w./-]*)$/))) {
      const [, key, op, val] = m;
      return (o) => {
        const v = o.metadata.labels?.[key];
        return op === '!=' ? v !== val : v === val;
      };
    }
    if ((m = t.match(/^!\s*([\w./-]+)$/))) {
      const key = m[1];
      return (o) => o.metadata.labels?.[key] === undefined;
    }
    if ((m = t.match(/^([\w./-]+)$/))) {
      const key = m[1];
      return (o) => o.metadata.labels?.[key] !== undefined;
    }
    throw new StoreError(400, 'BadRequest', `unable to parse requirement: ${t}`);
  });
  return (o) => terms.every((f) => f(o));
}

function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur === undefined || cur === null ? '' : String(cur);
}

export function parseFieldSelector(sel: string | null): Matcher {
  if (!sel) return matchAll;
  const terms = splitTerms(sel).map((t): Matcher => {
    const m = t.match(/^([\w.]+)\s*(==|!=|=)\s*(.*)$/);
    if (!m) throw new StoreError(400, 'BadRequest', `invalid field selector: ${t}`);
    const [, path, op, val] = m;
    return (o) => (op === '!=' ? fieldValue(o, path) !== val : fieldValue(o, path) === val);
  });
  return (o) => terms.every((f) => f(o));
}

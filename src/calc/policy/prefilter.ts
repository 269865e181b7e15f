/**
 * A selector's prefilter: one label condition no match can lack (`key == value`, or just that
 * `key` is present), read off the top-level `&&` chain of its AST. The label index uses it to
 * test a selector only against items that pass it, and an item only against selectors it passes.
 * A selector whose top level is an `||`, a negation or `all()` has none, and is tested everywhere.
 */
import type { Selector, SelectorNode } from '../../datastore/selector.js';

export interface Prefilter {
  readonly key: string;
  /** Absent: only the key's presence is required. */
  readonly value?: string;
}

/**
 * Every condition of the top-level `&&` chain that can serve as a prefilter. The label index
 * picks the one that admits the fewest items it holds (a namespace equality in a namespaced
 * policy is usually far narrower than `role == 'db'`).
 */
export function prefilterCandidates(sel: Selector): Prefilter[] {
  const terms: SelectorNode[] = [];
  collect(sel.ast, terms);
  const out: Prefilter[] = [];
  for (const t of terms) {
    const c = candidate(t);
    if (c) out.push(c);
  }
  return out;
}

/** The first equality, else the first presence condition: a choice made without item counts. */
export function prefilterOf(sel: Selector): Prefilter | undefined {
  const cs = prefilterCandidates(sel);
  return cs.find((c) => c.value !== undefined) ?? cs[0];
}

function collect(n: SelectorNode, out: SelectorNode[]): void {
  if (n.op === 'and') for (const o of n.operands) collect(o, out);
  else out.push(n);
}

function candidate(n: SelectorNode): Prefilter | undefined {
  switch (n.op) {
    case 'eq':
      return { key: n.key, value: n.value };
    case 'in':
      return n.values.length === 1 ? { key: n.key, value: n.values[0]! } : { key: n.key };
    case 'has':
    case 'contains':
    case 'startsWith':
    case 'endsWith':
      return { key: n.key };
    default:
      return undefined;
  }
}

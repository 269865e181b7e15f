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

/** Keys that hold few distinct values (namespaces): an equality on them admits many items. */
const BROAD_KEYS = new Set(['projectcalico.org/namespace', 'projectcalico.org/orchestrator']);

export function prefilterOf(sel: Selector): Prefilter | undefined {
  const terms: SelectorNode[] = [];
  collect(sel.ast, terms);
  let best: Prefilter | undefined;
  let bestScore = 0;
  for (const t of terms) {
    const c = candidate(t);
    if (!c) continue;
    const score = c.value === undefined ? 1 : BROAD_KEYS.has(c.key) ? 2 : 3;
    if (score > bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return best;
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

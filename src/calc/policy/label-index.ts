/**
 * Which labelled items each selector matches, kept up to date incrementally (Felix's
 * `labelindex.InheritIndex`). Items (endpoints, network sets) carry their own labels and a list
 * of parents (profiles) whose labels they inherit; an item's own label wins, then the first
 * parent that has the key. Consumers hear only transitions: a match started or stopped.
 *
 * Cost is kept proportional to the change, not to the cluster:
 * - a new item is tested only against candidate selectors: those with no usable prefilter, plus
 *   those whose prefilter (a `key == value` or `has(key)` the selector cannot match without) the
 *   item's labels satisfy;
 * - a changed item is re-tested only against selectors that read a key whose value changed;
 * - a new selector is tested only against the items its prefilter admits (a value or key index),
 *   or against every item when it has none (`all()`, `!has(x)`, `a != 'b'`);
 * - a parent's change re-tests only the items that inherit from it.
 */
import type { Selector } from '../../datastore/selector.js';
import { prefilterOf, type Prefilter } from './prefilter.js';

type Labels = Readonly<Record<string, string>>;

export interface LabelIndexEvents {
  onMatchStarted(selectorId: string, itemId: string): void;
  onMatchStopped(selectorId: string, itemId: string): void;
}

interface ItemState {
  own: Labels;
  parents: readonly string[];
  /** Own labels over inherited ones. */
  merged: Labels;
  /** Selector ids this item matches now. */
  matches: Set<string>;
}

interface SelectorState {
  selector: Selector;
  keys: ReadonlySet<string>;
  prefilter: Prefilter | undefined;
  matches: Set<string>;
}

const EMPTY: Labels = Object.freeze({});

export class LabelIndex {
  private readonly items = new Map<string, ItemState>();
  private readonly parents = new Map<string, Labels>();
  private readonly childrenOf = new Map<string, Set<string>>();
  private readonly selectors = new Map<string, SelectorState>();
  /** Selectors by a key they read: re-tested when that key's value changes on an item. */
  private readonly selectorsByKey = new Map<string, Set<string>>();
  /** Prefilter indexes of selectors: key → value → ids, key → ids (has), and the unfiltered. */
  private readonly selectorsByKv = new Map<string, Map<string, Set<string>>>();
  private readonly selectorsByHas = new Map<string, Set<string>>();
  private readonly unfiltered = new Set<string>();
  /** Item indexes for new selectors: key → value → item ids. */
  private readonly itemsByKv = new Map<string, Map<string, Set<string>>>();

  constructor(private readonly events: LabelIndexEvents) {}

  get itemCount(): number {
    return this.items.size;
  }

  get selectorCount(): number {
    return this.selectors.size;
  }

  /** The current matches of a selector (live view; do not mutate). */
  matchesOf(selectorId: string): ReadonlySet<string> {
    return this.selectors.get(selectorId)?.matches ?? new Set();
  }

  /** Merged labels of an item, for status output. */
  labelsOf(itemId: string): Labels | undefined {
    return this.items.get(itemId)?.merged;
  }

  updateSelector(id: string, selector: Selector | undefined): void {
    const old = this.selectors.get(id);
    if (old && selector && old.selector.toString() === selector.toString()) return;
    if (old) this.removeSelector(id, old, selector !== undefined);
    if (!selector) return;
    const s: SelectorState = { selector, keys: selector.labelKeys(), prefilter: prefilterOf(selector), matches: old?.matches ?? new Set() };
    this.selectors.set(id, s);
    for (const k of s.keys) addTo(this.selectorsByKey, k, id);
    const pf = s.prefilter;
    if (!pf) this.unfiltered.add(id);
    else if (pf.value !== undefined) addTo2(this.selectorsByKv, pf.key, pf.value, id);
    else addTo(this.selectorsByHas, pf.key, id);

    const previous = s.matches;
    s.matches = new Set();
    for (const itemId of this.candidateItems(pf)) {
      const item = this.items.get(itemId)!;
      if (selector.matches(item.merged)) s.matches.add(itemId);
    }
    // Transitions against what this id matched before (a changed selector under the same id).
    for (const itemId of previous) {
      if (!s.matches.has(itemId)) {
        this.items.get(itemId)?.matches.delete(id);
        this.events.onMatchStopped(id, itemId);
      }
    }
    for (const itemId of s.matches) {
      if (!previous.has(itemId)) {
        this.items.get(itemId)!.matches.add(id);
        this.events.onMatchStarted(id, itemId);
      }
    }
  }

  /** Sets a parent's labels (undefined: the parent is gone and contributes nothing). */
  updateParent(id: string, labels: Labels | undefined): void {
    const before = this.parents.get(id);
    if (labels === undefined) this.parents.delete(id);
    else this.parents.set(id, labels);
    if (sameLabels(before ?? EMPTY, labels ?? EMPTY)) return;
    // A copy: relabel re-indexes the item, which deletes and re-adds it in this very set.
    for (const itemId of [...(this.childrenOf.get(id) ?? [])]) {
      const item = this.items.get(itemId)!;
      this.relabel(itemId, item, item.own, item.parents);
    }
  }

  /** Adds, changes (undefined labels: removes) one item. */
  updateItem(id: string, labels: Labels | undefined, parents: readonly string[] = []): void {
    const item = this.items.get(id);
    if (labels === undefined) {
      if (!item) return;
      for (const selId of item.matches) {
        this.selectors.get(selId)?.matches.delete(id);
        this.events.onMatchStopped(selId, id);
      }
      this.unindexItem(id, item);
      this.items.delete(id);
      return;
    }
    if (!item) {
      const merged = this.merge(labels, parents);
      const fresh: ItemState = { own: labels, parents, merged, matches: new Set() };
      this.items.set(id, fresh);
      this.indexItem(id, fresh);
      for (const selId of this.candidateSelectors(merged)) {
        const s = this.selectors.get(selId)!;
        if (s.selector.matches(merged)) {
          s.matches.add(id);
          fresh.matches.add(selId);
          this.events.onMatchStarted(selId, id);
        }
      }
      return;
    }
    this.relabel(id, item, labels, parents);
  }

  private relabel(id: string, item: ItemState, own: Labels, parents: readonly string[]): void {
    const merged = this.merge(own, parents);
    const changedKeys = diffKeys(item.merged, merged);
    this.unindexItem(id, item);
    item.own = own;
    item.parents = parents;
    item.merged = merged;
    this.indexItem(id, item);
    if (changedKeys.length === 0) return;
    const retest = new Set<string>();
    for (const k of changedKeys) for (const selId of this.selectorsByKey.get(k) ?? []) retest.add(selId);
    for (const selId of retest) {
      const s = this.selectors.get(selId)!;
      const now = s.selector.matches(merged);
      const was = s.matches.has(id);
      if (now === was) continue;
      if (now) {
        s.matches.add(id);
        item.matches.add(selId);
        this.events.onMatchStarted(selId, id);
      } else {
        s.matches.delete(id);
        item.matches.delete(selId);
        this.events.onMatchStopped(selId, id);
      }
    }
  }

  private removeSelector(id: string, s: SelectorState, replacing: boolean): void {
    this.selectors.delete(id);
    for (const k of s.keys) removeFrom(this.selectorsByKey, k, id);
    const pf = s.prefilter;
    if (!pf) this.unfiltered.delete(id);
    else if (pf.value !== undefined) removeFrom2(this.selectorsByKv, pf.key, pf.value, id);
    else removeFrom(this.selectorsByHas, pf.key, id);
    if (replacing) return; // the caller diffs the old matches against the new ones
    for (const itemId of s.matches) {
      this.items.get(itemId)?.matches.delete(id);
      this.events.onMatchStopped(id, itemId);
    }
  }

  private merge(own: Labels, parents: readonly string[]): Labels {
    if (parents.length === 0) return own;
    const out: Record<string, string> = {};
    // Later parents first so earlier parents overwrite them; own labels last.
    for (let i = parents.length - 1; i >= 0; i--) Object.assign(out, this.parents.get(parents[i]!));
    return Object.assign(out, own);
  }

  private indexItem(id: string, item: ItemState): void {
    for (const p of item.parents) addTo(this.childrenOf, p, id);
    for (const k in item.merged) addTo2(this.itemsByKv, k, item.merged[k]!, id);
  }

  private unindexItem(id: string, item: ItemState): void {
    for (const p of item.parents) removeFrom(this.childrenOf, p, id);
    for (const k in item.merged) removeFrom2(this.itemsByKv, k, item.merged[k]!, id);
  }

  private *candidateItems(pf: Prefilter | undefined): Iterable<string> {
    if (!pf) {
      yield* this.items.keys();
      return;
    }
    const byValue = this.itemsByKv.get(pf.key);
    if (!byValue) return;
    if (pf.value !== undefined) {
      yield* byValue.get(pf.value) ?? [];
      return;
    }
    for (const ids of byValue.values()) yield* ids;
  }

  private candidateSelectors(labels: Labels): Set<string> {
    const out = new Set(this.unfiltered);
    for (const k in labels) {
      for (const id of this.selectorsByHas.get(k) ?? []) out.add(id);
      for (const id of this.selectorsByKv.get(k)?.get(labels[k]!) ?? []) out.add(id);
    }
    return out;
  }
}

function diffKeys(a: Labels, b: Labels): string[] {
  const out: string[] = [];
  for (const k in a) if (a[k] !== b[k]) out.push(k);
  for (const k in b) if (!(k in a)) out.push(k);
  return out;
}

function sameLabels(a: Labels, b: Labels): boolean {
  return diffKeys(a, b).length === 0;
}

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}

function removeFrom<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}

function addTo2(m: Map<string, Map<string, Set<string>>>, k: string, v: string, id: string): void {
  let inner = m.get(k);
  if (!inner) m.set(k, (inner = new Map()));
  addTo(inner, v, id);
}

function removeFrom2(m: Map<string, Map<string, Set<string>>>, k: string, v: string, id: string): void {
  const inner = m.get(k);
  if (!inner) return;
  removeFrom(inner, v, id);
  if (inner.size === 0) m.delete(k);
}

/**
 * Which labelled items each selector matches, kept up to date incrementally (Felix's
 * `labelindex.InheritIndex`). Items (endpoints, network sets) carry their own labels and a list
 * of parents (profiles) whose labels they inherit; an item's own label wins, then the first
 * parent that has the key. Consumers hear only transitions: a match started or stopped.
 *
 * Cost is kept proportional to the change, not to the cluster:
 * - every selector has a prefilter: one condition of its top-level `&&` no match can lack
 *   (`key == value`, or `has(key)`), chosen when the selector arrives as the one admitting the
 *   fewest items; selectors without one (`all()`, `!has(x)`, `a || b`) are "unfiltered";
 * - a new item is tested only against the unfiltered selectors and those whose prefilter its
 *   labels satisfy (one bucket lookup per indexed key);
 * - a changed item is re-tested only against selectors that read a key whose value changed;
 * - a new selector is tested only against the items its prefilter admits, found through a
 *   per-key value index kept for the keys selectors use as prefilters (built the first time a
 *   selector needs the key, then kept), or against every item when it has no prefilter;
 * - a parent's change re-tests only the items that inherit from it.
 */
import type { Selector } from '../../datastore/selector.js';
import { prefilterCandidates, type Prefilter } from './prefilter.js';

type Labels = Readonly<Record<string, string>>;

export interface LabelIndexEvents {
  onMatchStarted(selectorId: string, itemId: string): void;
  onMatchStopped(selectorId: string, itemId: string): void;
}

interface ItemState {
  own: Labels;
  parents: readonly string[];
  /** Own labels over inherited ones (the own object itself when there is nothing to inherit). */
  merged: Labels;
}

interface SelectorState {
  selector: Selector;
  keys: ReadonlySet<string>;
  prefilter: Prefilter | undefined;
  matches: Set<string>;
}

const EMPTY: Labels = Object.freeze({});
const NO_MATCHES: ReadonlySet<string> = new Set();

export class LabelIndex {
  private readonly items = new Map<string, ItemState>();
  private readonly parents = new Map<string, Labels>();
  private readonly childrenOf = new Map<string, Set<string>>();
  private readonly selectors = new Map<string, SelectorState>();
  /** Selectors by a key they read: re-tested when that key's value changes on an item. */
  private readonly selectorsByKey = new Map<string, Set<string>>();
  /** Selectors by prefilter: key → value → ids, key → ids (presence only), and the unfiltered. */
  private readonly selectorsByKv = new Map<string, Map<string, Set<string>>>();
  private readonly selectorsByHas = new Map<string, Set<string>>();
  private readonly unfiltered = new Set<string>();
  /** Items by value, for the keys in `indexedKeys` only: key → value → item ids. */
  private readonly itemsByKv = new Map<string, Map<string, Set<string>>>();
  /** Keys some selector's prefilter could use. */
  private readonly indexedKeys = new Set<string>();

  constructor(private readonly events: LabelIndexEvents) {}

  get itemCount(): number {
    return this.items.size;
  }

  get selectorCount(): number {
    return this.selectors.size;
  }

  /** The current matches of a selector (live view; do not mutate). */
  matchesOf(selectorId: string): ReadonlySet<string> {
    return this.selectors.get(selectorId)?.matches ?? NO_MATCHES;
  }

  /**
   * Selector ids an item matches now. Not stored per item (100,000 small sets cost more than
   * they save): a match needs the selector's prefilter, so only those candidates are checked.
   */
  matchesOfItem(itemId: string): string[] {
    const item = this.items.get(itemId);
    if (!item) return [];
    const out: string[] = [];
    this.forEachCandidate(item.merged, (selId) => {
      if (this.selectors.get(selId)!.matches.has(itemId)) out.push(selId);
    });
    return out;
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
    const pf = this.choosePrefilter(selector);
    const previous = old?.matches ?? new Set<string>();
    const s: SelectorState = { selector, keys: selector.labelKeys(), prefilter: pf, matches: new Set() };
    this.selectors.set(id, s);
    for (const k of s.keys) addTo(this.selectorsByKey, k, id);
    if (!pf) this.unfiltered.add(id);
    else if (pf.value !== undefined) addTo2(this.selectorsByKv, pf.key, pf.value, id);
    else addTo(this.selectorsByHas, pf.key, id);

    const test = (itemId: string): void => {
      if (selector.matches(this.items.get(itemId)!.merged)) s.matches.add(itemId);
    };
    if (!pf) for (const itemId of this.items.keys()) test(itemId);
    else if (pf.value !== undefined) for (const itemId of this.itemsByKv.get(pf.key)?.get(pf.value) ?? []) test(itemId);
    else for (const ids of this.itemsByKv.get(pf.key)?.values() ?? []) for (const itemId of ids) test(itemId);

    // Transitions against what this id matched before (a changed selector under the same id).
    for (const itemId of previous) if (!s.matches.has(itemId)) this.events.onMatchStopped(id, itemId);
    for (const itemId of s.matches) if (!previous.has(itemId)) this.events.onMatchStarted(id, itemId);
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
      for (const selId of this.matchesOfItem(id)) {
        this.selectors.get(selId)!.matches.delete(id);
        this.events.onMatchStopped(selId, id);
      }
      this.unindexItem(id, item);
      this.items.delete(id);
      return;
    }
    if (item) {
      this.relabel(id, item, labels, parents);
      return;
    }
    const merged = this.merge(labels, parents);
    const fresh: ItemState = { own: labels, parents, merged };
    this.items.set(id, fresh);
    this.indexItem(id, fresh);
    this.forEachCandidate(merged, (selId) => {
      const s = this.selectors.get(selId)!;
      if (!s.selector.matches(merged)) return;
      s.matches.add(id);
      this.events.onMatchStarted(selId, id);
    });
  }

  /** The selectors whose prefilter these labels satisfy, each once (one bucket per selector). */
  private forEachCandidate(labels: Labels, fn: (selId: string) => void): void {
    for (const selId of this.unfiltered) fn(selId);
    for (const k in labels) {
      const has = this.selectorsByHas.get(k);
      if (has) for (const selId of has) fn(selId);
      const byValue = this.selectorsByKv.get(k)?.get(labels[k]!);
      if (byValue) for (const selId of byValue) fn(selId);
    }
  }

  private relabel(id: string, item: ItemState, own: Labels, parents: readonly string[]): void {
    const merged = this.merge(own, parents);
    const changedKeys = diffKeys(item.merged, merged);
    const parentsChanged = item.parents !== parents && item.parents.join('\0') !== parents.join('\0');
    if (changedKeys.length || parentsChanged) this.unindexItem(id, item);
    const reindex = changedKeys.length > 0 || parentsChanged;
    item.own = own;
    item.parents = parents;
    item.merged = merged;
    if (reindex) this.indexItem(id, item);
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
        this.events.onMatchStarted(selId, id);
      } else {
        s.matches.delete(id);
        this.events.onMatchStopped(selId, id);
      }
    }
  }

  /** Of the selector's possible prefilters, the one admitting the fewest items now. */
  private choosePrefilter(selector: Selector): Prefilter | undefined {
    let best: Prefilter | undefined;
    let bestCount = Infinity;
    for (const c of prefilterCandidates(selector)) {
      this.indexKey(c.key);
      const byValue = this.itemsByKv.get(c.key);
      let n = 0;
      if (c.value !== undefined) n = byValue?.get(c.value)?.size ?? 0;
      else for (const ids of byValue?.values() ?? []) n += ids.size;
      // An equality also narrows the item-side lookup to one value: prefer it on a tie.
      if (n < bestCount || (n === bestCount && c.value !== undefined && best?.value === undefined)) {
        best = c;
        bestCount = n;
      }
    }
    return best;
  }

  /**
   * Builds the value index of `key` the first time a selector could use it, and keeps it: the
   * keys selectors test are few (app, role, namespace, ...), and rebuilding an index is a scan of
   * every item, which a policy edit must not pay.
   */
  private indexKey(key: string): void {
    if (this.indexedKeys.has(key)) return;
    this.indexedKeys.add(key);
    for (const [id, item] of this.items) {
      const v = item.merged[key];
      if (v !== undefined) addTo2(this.itemsByKv, key, v, id);
    }
  }

  private removeSelector(id: string, s: SelectorState, replacing: boolean): void {
    this.selectors.delete(id);
    for (const k of s.keys) removeFrom(this.selectorsByKey, k, id);
    const pf = s.prefilter;
    if (!pf) this.unfiltered.delete(id);
    else {
      if (pf.value !== undefined) removeFrom2(this.selectorsByKv, pf.key, pf.value, id);
      else removeFrom(this.selectorsByHas, pf.key, id);
    }
    if (replacing) return; // the caller diffs the old matches against the new ones
    for (const itemId of s.matches) this.events.onMatchStopped(id, itemId);
  }

  private merge(own: Labels, parents: readonly string[]): Labels {
    let out: Record<string, string> | undefined;
    // Later parents first so earlier parents overwrite them; own labels last.
    for (let i = parents.length - 1; i >= 0; i--) {
      const p = this.parents.get(parents[i]!);
      if (p) Object.assign((out ??= {}), p);
    }
    return out ? Object.assign(out, own) : own;
  }

  private indexItem(id: string, item: ItemState): void {
    for (const p of item.parents) addTo(this.childrenOf, p, id);
    for (const k of this.indexedKeys) {
      const v = item.merged[k];
      if (v !== undefined) addTo2(this.itemsByKv, k, v, id);
    }
  }

  private unindexItem(id: string, item: ItemState): void {
    for (const p of item.parents) removeFrom(this.childrenOf, p, id);
    for (const k of this.indexedKeys) {
      const v = item.merged[k];
      if (v !== undefined) removeFrom2(this.itemsByKv, k, v, id);
    }
  }
}

function diffKeys(a: Labels, b: Labels): string[] {
  if (a === b) return [];
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

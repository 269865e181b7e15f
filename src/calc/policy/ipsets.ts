/**
 * Members of every active IP set (Felix's label index + `ipset_member_calc`): a selector set holds
 * the addresses of every endpoint and the nets of every network set the selector matches; a
 * named-port set holds `addr,proto:port` for the matching endpoints that have that named port.
 * Members are reference-counted (two endpoints may share an address while one is replaced).
 *
 * Output is incremental: a set that becomes active is sent whole, then only deltas, and a set no
 * rule uses any more is removed. Activation is reference-counted by the rule owners that use it.
 */
import type { PolicyMessage } from '../../proto/policy.js';
import { LabelIndex } from './label-index.js';
import type { LabelledItem } from './model.js';
import type { IpSetDef } from './rule-scanner.js';

interface ActiveSet {
  readonly def: IpSetDef;
  readonly members: Map<string, number>;
  /** Members added / removed since the last flush (net effect). */
  readonly added: Set<string>;
  readonly removed: Set<string>;
  sent: boolean;
}

export class IpSetCalculator {
  private readonly index: LabelIndex;
  private readonly items = new Map<string, LabelledItem>();
  /** Active sets by id, and the owners (policy / profile keys) using each. */
  private readonly sets = new Map<string, ActiveSet>();
  private readonly owners = new Map<string, Set<string>>();
  /** Selector unique id → ids of active sets built on it (a plain set and named-port sets). */
  private readonly setsBySelector = new Map<string, Set<string>>();
  private readonly removedSets = new Set<string>();

  constructor() {
    this.index = new LabelIndex({
      onMatchStarted: (sel, item) => this.contribute(sel, item, +1),
      onMatchStopped: (sel, item) => this.contribute(sel, item, -1),
    });
  }

  /** Number of selectors with an active IP set (felix_active_local_selectors). */
  get activeSelectorCount(): number {
    return this.setsBySelector.size;
  }

  get activeSetCount(): number {
    return this.sets.size;
  }

  members(id: string): string[] {
    return [...(this.sets.get(id)?.members.keys() ?? [])].sort();
  }

  updateParent(profile: string, labels: Readonly<Record<string, string>> | undefined): void {
    this.index.updateParent(profile, labels);
  }

  /** An endpoint or network set appeared, changed or (undefined) went away. */
  updateItem(id: string, item: LabelledItem | undefined): void {
    const old = this.items.get(id);
    if (!item) {
      this.index.updateItem(id, undefined);
      this.items.delete(id);
      return;
    }
    if (old && (old.nets.join() !== item.nets.join() || JSON.stringify(old.ports) !== JSON.stringify(item.ports))) {
      // Same labels, other addresses: swap the contributions to every set it is in now.
      const matched = this.index.matchesOfItem(id);
      for (const sel of matched) this.contribute(sel, id, -1);
      this.items.set(id, item);
      for (const sel of matched) this.contribute(sel, id, +1);
    } else {
      this.items.set(id, item);
    }
    this.index.updateItem(id, item.labels, item.profiles);
  }

  /** `owner` (a policy or profile key) now uses exactly `defs`. */
  setOwnerSets(owner: string, defs: ReadonlyMap<string, IpSetDef>): void {
    for (const [id, users] of this.owners) {
      if (users.has(owner) && !defs.has(id)) {
        users.delete(owner);
        if (users.size === 0) this.deactivate(id);
      }
    }
    for (const [id, def] of defs) {
      let users = this.owners.get(id);
      if (!users) {
        this.owners.set(id, (users = new Set()));
        this.activate(def);
      }
      users.add(owner);
    }
  }

  /** Messages since the last call: full sets for new ones, deltas, removals (removals last). */
  flush(out: PolicyMessage[], removals: PolicyMessage[]): void {
    for (const [id, s] of this.sets) {
      if (!s.sent) {
        s.sent = true;
        s.added.clear();
        s.removed.clear();
        out.push({ type: 'ipset-update', id, setType: s.def.namedPort ? 'ip-port' : 'net', members: [...s.members.keys()].sort() });
      } else if (s.added.size || s.removed.size) {
        out.push({ type: 'ipset-delta', id, added: [...s.added].sort(), removed: [...s.removed].sort() });
        s.added.clear();
        s.removed.clear();
      }
    }
    for (const id of this.removedSets) removals.push({ type: 'ipset-remove', id });
    this.removedSets.clear();
  }

  private activate(def: IpSetDef): void {
    const set: ActiveSet = { def, members: new Map(), added: new Set(), removed: new Set(), sent: false };
    this.sets.set(def.id, set);
    this.removedSets.delete(def.id);
    const selId = def.selector.uniqueId();
    let group = this.setsBySelector.get(selId);
    const first = !group;
    if (!group) this.setsBySelector.set(selId, (group = new Set()));
    group.add(def.id);
    if (first) {
      this.index.updateSelector(selId, def.selector); // fills every set of the group via events
    } else {
      for (const itemId of this.index.matchesOf(selId)) this.addItemTo(set, itemId, +1);
    }
  }

  private deactivate(id: string): void {
    const s = this.sets.get(id);
    if (!s) return;
    this.owners.delete(id);
    this.sets.delete(id);
    if (s.sent) this.removedSets.add(id);
    const selId = s.def.selector.uniqueId();
    const group = this.setsBySelector.get(selId);
    group?.delete(id);
    if (group && group.size === 0) {
      this.setsBySelector.delete(selId);
      this.index.updateSelector(selId, undefined);
    }
  }

  private contribute(selId: string, itemId: string, sign: 1 | -1): void {
    for (const setId of this.setsBySelector.get(selId) ?? []) this.addItemTo(this.sets.get(setId)!, itemId, sign);
  }

  private addItemTo(set: ActiveSet, itemId: string, sign: 1 | -1): void {
    const item = this.items.get(itemId);
    if (!item) return;
    const np = set.def.namedPort;
    if (!np) {
      for (const n of item.nets) this.bump(set, n, sign);
      return;
    }
    for (const p of item.ports) {
      if (p.name !== np.name || p.protocol !== np.protocol) continue;
      for (const n of item.nets) if (!n.includes('/')) this.bump(set, `${n},${np.protocol}:${p.port}`, sign);
    }
  }

  private bump(set: ActiveSet, member: string, sign: 1 | -1): void {
    const n = (set.members.get(member) ?? 0) + sign;
    if (n > 0) {
      if (n === 1 && sign > 0) {
        set.members.set(member, 1);
        if (set.removed.has(member)) set.removed.delete(member);
        else set.added.add(member);
      } else {
        set.members.set(member, n);
      }
      return;
    }
    set.members.delete(member);
    if (set.added.has(member)) set.added.delete(member);
    else set.removed.add(member);
  }
}

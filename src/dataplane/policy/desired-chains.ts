/**
 * The policy messages of the calc layer turned into the chains each table should hold, for one IP
 * version: Felix's policy manager, endpoint manager and the static part of its iptables setup,
 * without any I/O. It keeps what it last rendered per owner (a policy, a profile, an endpoint, the
 * dispatch chains, the static chains) and hands the tables only what changed: chains to write and
 * chain names no owner wants any more.
 *
 *   policy-update   ─▶ cali-pi-/cali-po-   in filter (raw for doNotTrack, mangle for preDNAT)
 *   profile-update  ─▶ cali-pri-/cali-pro- in filter
 *   workload ep     ─▶ cali-tw-/cali-fw- (+ cali-gi-/cali-go- groups) in filter; dispatch rebuilt
 *   host ep         ─▶ cali-th-/cali-fh-/cali-thfw-/cali-fhfw- in filter, mangle and raw; dispatch
 *   masq pools      ─▶ cali-nat-outgoing active or empty
 *   encapsulation   ─▶ static chains re-rendered (VXLAN/IPIP accept rules, tunnel MASQUERADE)
 *
 * Chains shared by several owners (policy groups) are reference-counted, so one endpoint going
 * away does not remove a group another still jumps to. The tables program only chains something
 * refers to, so a rendered chain nobody reaches costs nothing in the kernel.
 */
import type { HostEndpointBody, IpVersion, PolicyBody, PolicyId, ProfileBody, WorkloadEndpointBody } from '../../proto/policy.js';
import { policyKey } from '../../proto/policy.js';
import { ALL_INTERFACES, IptablesRuleRenderer, type Chain, type HookRules, type RenderConfig, type TableName } from '../rules/index.js';

export const TABLES: readonly TableName[] = ['raw', 'mangle', 'filter', 'nat'];

/** What one flush hands the tables: per table, chains to write and names to drop. */
export interface ChainDelta {
  readonly updates: Map<TableName, Chain[]>;
  readonly removals: Map<TableName, string[]>;
  /** Set when the hooks changed (static render): the tables replace theirs. */
  readonly hooks?: readonly HookRules[];
}

type Owned = Map<TableName, Chain[]>;

function emptyOwned(): Owned {
  return new Map();
}

/** Renders and remembers, for one IP version. */
export class DesiredChains {
  private renderer: IptablesRuleRenderer;
  private readonly owners = new Map<string, Owned>();
  /** table → chain name → owners holding it (for shared group chains). */
  private readonly holders = new Map<TableName, Map<string, Set<string>>>();
  private readonly pendingUpdates = new Map<TableName, Map<string, Chain>>();
  private readonly pendingRemovals = new Map<TableName, Set<string>>();
  private pendingHooks: readonly HookRules[] | undefined;

  private readonly policies = new Map<string, { id: PolicyId; body: PolicyBody }>();
  private readonly selectors = new Map<string, string>();
  private readonly workloads = new Map<string, WorkloadEndpointBody>();
  private readonly hosts = new Map<string, HostEndpointBody>();
  private dispatchDirty = true;
  private staticDirty = true;
  private natActive = false;
  private natDirty = true;

  constructor(
    readonly ipVersion: IpVersion,
    private renderCfg: RenderConfig,
  ) {
    this.renderer = new IptablesRuleRenderer(renderCfg);
  }

  /** Encapsulation or another setting the static chains depend on changed. */
  reconfigure(cfg: RenderConfig): void {
    this.renderCfg = cfg;
    this.renderer = new IptablesRuleRenderer(cfg);
    this.staticDirty = true;
    this.natDirty = true;
  }

  get config(): RenderConfig {
    return this.renderCfg;
  }

  // ---- inputs ----

  setPolicy(id: PolicyId, body: PolicyBody): void {
    const key = policyKey(id);
    this.policies.set(key, { id, body });
    if (body.originalSelector !== undefined) this.selectors.set(key, body.originalSelector);
    const chains = this.renderer.policyChains(id, body, this.ipVersion);
    const table: TableName = body.untracked ? 'raw' : body.preDnat ? 'mangle' : 'filter';
    this.own(`policy:${key}`, new Map([[table, chains]]));
  }

  removePolicy(id: PolicyId): void {
    const key = policyKey(id);
    this.policies.delete(key);
    this.selectors.delete(key);
    this.own(`policy:${key}`, emptyOwned());
  }

  setProfile(id: string, body: ProfileBody): void {
    this.own(`profile:${id}`, new Map([['filter', this.renderer.profileChains(id, body, this.ipVersion)]]));
  }

  removeProfile(id: string): void {
    this.own(`profile:${id}`, emptyOwned());
  }

  setWorkload(key: string, ep: WorkloadEndpointBody): void {
    const prev = this.workloads.get(key);
    this.workloads.set(key, ep);
    if (prev?.name !== ep.name) this.dispatchDirty = true;
    const ctx = this.ctx();
    const chains = [...this.renderer.workloadEndpointChains(ep, this.ipVersion, ctx), ...this.renderer.policyGroupChains(ep.tiers, this.ipVersion, ctx)];
    this.own(`wep:${key}`, new Map([['filter', chains]]));
  }

  removeWorkload(key: string): void {
    if (!this.workloads.delete(key)) return;
    this.dispatchDirty = true;
    this.own(`wep:${key}`, emptyOwned());
  }

  setHost(key: string, hep: HostEndpointBody): void {
    // Refused here (counted and logged by the caller) rather than in the dispatch render, where
    // one bad endpoint would fail every pass.
    if (hep.name === '') throw new Error(`host endpoint ${key} has no interfaceName; tortie binds host endpoints by interface name or '*' only (expectedIPs alone are not supported)`);
    const prev = this.hosts.get(key);
    this.hosts.set(key, hep);
    if (prev?.name !== hep.name || tierShape(prev) !== tierShape(hep)) this.dispatchDirty = true;
    const iface = hep.name === '*' ? ALL_INTERFACES : hep.name;
    const ctx = this.ctx();
    const t = this.renderer.hostEndpointChains(iface, hep, this.ipVersion, ctx);
    const groups = (tiers: HostEndpointBody['tiers']) => this.renderer.policyGroupChains(tiers, this.ipVersion, ctx);
    this.own(
      `hep:${key}`,
      new Map<TableName, Chain[]>([
        ['filter', [...t.filter, ...groups(hep.tiers), ...groups(hep.forwardTiers)]],
        ['mangle', [...t.mangle, ...groups(hep.preDnatTiers)]],
        ['raw', [...t.raw, ...groups(hep.untrackedTiers)]],
      ]),
    );
  }

  removeHost(key: string): void {
    if (!this.hosts.delete(key)) return;
    this.dispatchDirty = true;
    this.own(`hep:${key}`, emptyOwned());
  }

  /** Whether any natOutgoing pool of this family exists (`masq-ipam-pools` non-empty). */
  setNatOutgoing(active: boolean): void {
    if (active === this.natActive) return;
    this.natActive = active;
    this.natDirty = true;
  }

  /** Interface names of this node's workloads (for `tortie status`). */
  workloadInterfaces(): string[] {
    return [...this.workloads.values()].map((w) => w.name);
  }

  /** The IP addresses of a workload (bare, no prefix length), for conntrack cleanup. */
  workloadAddresses(key: string): string[] {
    const ep = this.workloads.get(key);
    if (!ep) return [];
    const nets = this.ipVersion === 4 ? ep.ipv4Nets : ep.ipv6Nets;
    return nets.map((n) => n.split('/')[0]!);
  }

  // ---- output ----

  /** What changed since the last flush, with dispatch, static and nat chains brought up to date. */
  flush(): ChainDelta {
    if (this.staticDirty) {
      this.staticDirty = false;
      const s = this.renderer.staticChains(this.ipVersion);
      // The data-driven chains the static ones jump to, empty: floating IPs (OpenStack), the
      // service-loop CIDR block (no service CIDRs known) and the rpf skip list (no endpoint may
      // spoof). Felix writes them empty too when it has nothing for them.
      const v = this.ipVersion;
      const [fipDnat, fipSnat] = this.renderer.floatingIpChains(new Map(), new Map());
      this.own('static', new Map<TableName, Chain[]>([
        ['filter', [...s.filter, this.renderer.cidrBlockChain([], v)]],
        ['nat', [...s.nat, fipDnat!, fipSnat!]],
        ['mangle', s.mangle],
        ['raw', [...s.raw, this.renderer.rpfSkipChain([], v)]],
      ]));
      this.pendingHooks = s.hooks;
    }
    if (this.natDirty) {
      this.natDirty = false;
      this.own('nat-outgoing', new Map([['nat', [this.renderer.natOutgoingChain(this.natActive, this.ipVersion)]]]));
    }
    if (this.dispatchDirty) {
      this.dispatchDirty = false;
      this.own('dispatch', this.dispatchChains());
    }
    const updates = new Map<TableName, Chain[]>();
    for (const [t, m] of this.pendingUpdates) if (m.size) updates.set(t, [...m.values()]);
    const removals = new Map<TableName, string[]>();
    for (const [t, s] of this.pendingRemovals) if (s.size) removals.set(t, [...s]);
    this.pendingUpdates.clear();
    this.pendingRemovals.clear();
    const hooks = this.pendingHooks;
    this.pendingHooks = undefined;
    return hooks ? { updates, removals, hooks } : { updates, removals };
  }

  /** Every chain currently desired, per table (a table instance starting from nothing). */
  all(): Map<TableName, Chain[]> {
    const out = new Map<TableName, Map<string, Chain>>();
    for (const owned of this.owners.values()) {
      for (const [t, chains] of owned) {
        let m = out.get(t);
        if (!m) out.set(t, (m = new Map()));
        for (const c of chains) m.set(c.name, c);
      }
    }
    return new Map([...out].map(([t, m]) => [t, [...m.values()]]));
  }

  private dispatchChains(): Owned {
    const v = this.ipVersion;
    const r = this.renderer;
    const wl = [...this.workloads.values()].map((w) => w.name);
    const all = [...this.hosts.values()];
    const named = (f: (h: HostEndpointBody) => boolean) => all.filter((h) => h.name !== '*' && f(h)).map((h) => h.name);
    const dflt = (f: (h: HostEndpointBody) => boolean) => (all.some((h) => h.name === '*' && f(h)) ? { defaultIface: ALL_INTERFACES } : {});
    const any = () => true;
    const untracked = (h: HostEndpointBody) => h.untrackedTiers.length > 0;
    const preDnat = (h: HostEndpointBody) => h.preDnatTiers.length > 0;
    return new Map<TableName, Chain[]>([
      ['filter', [...r.workloadDispatchChains(wl, v), ...r.hostDispatchChains(named(any), v, { ...dflt(any), applyOnForward: true })]],
      ['raw', r.hostDispatchChains(named(untracked), v, { ...dflt(untracked) })],
      ['mangle', [...r.hostDispatchChains(named(preDnat), v, { ...dflt(preDnat), directions: 'from' }), ...r.hostDispatchChains(named(any), v, { ...dflt(any), directions: 'to' })]],
    ]);
  }

  private ctx() {
    return { selectorOf: (id: PolicyId) => this.selectors.get(policyKey(id)) };
  }

  /** Replaces what `owner` holds; queues writes for changed chains and removals for dropped ones. */
  private own(owner: string, next: Owned): void {
    const prev = this.owners.get(owner);
    if (next.size === 0 || [...next.values()].every((c) => c.length === 0)) this.owners.delete(owner);
    else this.owners.set(owner, next);
    const tables = new Set<TableName>([...(prev?.keys() ?? []), ...next.keys()]);
    for (const t of tables) {
      const before = new Map((prev?.get(t) ?? []).map((c) => [c.name, c]));
      const after = new Map((next.get(t) ?? []).map((c) => [c.name, c]));
      let h = this.holders.get(t);
      if (!h) this.holders.set(t, (h = new Map()));
      for (const [name, c] of after) {
        let set = h.get(name);
        if (!set) h.set(name, (set = new Set()));
        set.add(owner);
        const old = before.get(name);
        if (!old || !sameChain(old, c)) this.queueUpdate(t, c);
      }
      for (const name of before.keys()) {
        if (after.has(name)) continue;
        const set = h.get(name);
        set?.delete(owner);
        if (!set || set.size === 0) {
          h.delete(name);
          this.queueRemoval(t, name);
        }
      }
    }
  }

  private queueUpdate(t: TableName, c: Chain): void {
    let m = this.pendingUpdates.get(t);
    if (!m) this.pendingUpdates.set(t, (m = new Map()));
    m.set(c.name, c);
    this.pendingRemovals.get(t)?.delete(c.name);
  }

  private queueRemoval(t: TableName, name: string): void {
    let s = this.pendingRemovals.get(t);
    if (!s) this.pendingRemovals.set(t, (s = new Set()));
    s.add(name);
    this.pendingUpdates.get(t)?.delete(name);
  }
}

function tierShape(h: HostEndpointBody | undefined): string {
  if (!h) return '';
  return `${h.untrackedTiers.length > 0}/${h.preDnatTiers.length > 0}`;
}

function sameChain(a: Chain, b: Chain): boolean {
  if (a === b) return true;
  if (a.rules.length !== b.rules.length) return false;
  return JSON.stringify(a.rules) === JSON.stringify(b.rules);
}

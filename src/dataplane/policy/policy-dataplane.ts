/**
 * The policy half of the dataplane: the calc layer's policy messages into IP sets and iptables,
 * per IP version, as two entries of the dataplane's reconciler table (reconciler-table.ts):
 *
 *   updates:    … vteps ─▶ ipsets (create, members) ─▶ iptables (raw, mangle, filter, nat) ─▶ routes
 *   deletions:  routes ─▶ iptables (unreferenced cali- chains) ─▶ conntrack of removed workloads
 *               ─▶ ipsets (destroy unused) ─▶ vteps …
 *
 * So a set exists before a rule matches on it and is destroyed only after the last rule using it
 * is gone, and a new workload's chains and dispatch entry are in place before its route is: until
 * then its traffic reaches `cali-from-wl-dispatch`'s "Unknown interface" drop, never an allow.
 *
 * Messages only queue work (DesiredChains renders, IpSets records); the driver's pass applies it.
 * The first pass of each part reads the kernel before writing anything, so a restart, or a node
 * where Felix left its chains and sets, changes only what differs. Each part is read back again
 * on its refresh interval (FELIX_IPTABLESREFRESHINTERVAL, FELIX_IPSETSREFRESHINTERVAL) and, for
 * iptables, once more a few seconds after each write, and repaired.
 */
import type { Registry } from 'prom-client';
import type { IpVersion, PolicyMessage } from '../../proto/policy.js';
import { workloadEndpointKey } from '../../proto/policy.js';
import { systemClock, type Clock, type TimerHandle } from '../../util/clock.js';
import { errorMessage } from '../../util/errors.js';
import { silentLogger, type Logger } from '../../util/log.js';
import type { CommandRunner } from '../exec.js';
import { emptyResult, type ReconcilerStep } from '../reconciler-table.js';
import type { ReconcileResult } from '../route-reconciler.js';
import { IPSET_ID, type RenderConfig, type TableName } from '../rules/index.js';
import { IpSets } from '../ipsets/ipsets.js';
import { createIpSetsMetrics } from '../ipsets/metrics.js';
import { resolveBackend, type IptablesBackendMode, type IptablesBinaries } from '../iptables/backend.js';
import { IptablesTable } from '../iptables/table.js';
import { createIptablesMetrics } from '../iptables/metrics.js';
import { flushConntrack } from './conntrack.js';
import { DesiredChains, TABLES } from './desired-chains.js';

export interface PolicyDataplaneOptions {
  runner: CommandRunner;
  /** Tests and the lab only: drive a named namespace from outside. */
  netns?: string;
  ipVersions: readonly IpVersion[];
  backend: IptablesBackendMode;
  render: RenderConfig;
  lockTimeoutMs?: number;
  /** Tests: a private xtables lock file instead of /run/xtables.lock. */
  lockFile?: string;
  iptablesRefreshMs: number;
  ipsetsRefreshMs: number;
  postWriteCheckMs: number;
  registry?: Registry;
  log?: Logger;
  clock?: Clock;
  /** Called when a refresh or post-write check is due: the driver runs a pass. */
  kick: () => void;
  /** Drift found by a read-back (tampering, another program): the driver counts it. */
  onRepair?: (kind: 'iptables' | 'ipset', n: number) => void;
}

interface Family {
  readonly v: IpVersion;
  readonly chains: DesiredChains;
  readonly ipsets: IpSets;
  tables?: Map<TableName, IptablesTable>;
}

/** The encapsulation facts the static chains depend on (from the device messages). */
export interface EncapState {
  ipipAddress?: string;
  vxlanAddress?: string;
  vxlanV6Address?: string;
  ipip: boolean;
  vxlan: boolean;
  vxlanV6: boolean;
}

export class PolicyDataplane {
  private readonly families: Family[];
  private readonly log: Logger;
  private readonly clock: Clock;
  private binaries: IptablesBinaries | undefined;
  private ipsetsResyncDue = true;
  private iptablesResyncDue = true;
  private ipsetsTimer: TimerHandle | undefined;
  private iptablesTimer: TimerHandle | undefined;
  private postWriteTimer: TimerHandle | undefined;
  private started = false;
  /** Workload addresses whose conntrack entries go once their rules are gone. */
  private readonly conntrackDue = new Set<string>();
  private readonly masqMembers = new Map<IpVersion, Set<string>>();
  private encap: EncapState = { ipip: false, vxlan: false, vxlanV6: false };
  private lastWriteOk = true;

  readonly ipsetsStep: ReconcilerStep;
  readonly iptablesStep: ReconcilerStep;

  constructor(private readonly opts: PolicyDataplaneOptions) {
    this.log = (opts.log ?? silentLogger).child({ part: 'policy' });
    this.clock = opts.clock ?? systemClock;
    const ipsetMetrics = opts.registry ? createIpSetsMetrics(opts.registry) : undefined;
    this.families = opts.ipVersions.map((v) => ({
      v,
      chains: new DesiredChains(v, opts.render),
      ipsets: new IpSets({ runner: opts.runner, ipVersion: v, log: this.log, ...(opts.netns ? { netns: opts.netns } : {}), ...(ipsetMetrics ? { metrics: ipsetMetrics } : {}) }),
    }));
    this.ipsetsStep = { name: 'ipsets', updates: () => this.ipsetUpdates(), deletions: () => this.ipsetDeletions() };
    this.iptablesStep = { name: 'iptables', updates: () => this.iptablesUpdates(), deletions: () => this.iptablesDeletions() };
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.scheduleIpsetsRefresh();
    this.scheduleIptablesRefresh();
  }

  stop(): void {
    this.started = false;
    this.ipsetsTimer?.cancel();
    this.iptablesTimer?.cancel();
    this.postWriteTimer?.cancel();
  }

  /** Everything read back on the next pass (after a failed pass the driver no longer trusts its picture). */
  requestResync(): void {
    this.ipsetsResyncDue = true;
    this.iptablesResyncDue = true;
  }

  get inSync(): boolean {
    return this.lastWriteOk && this.families.every((f) => f.ipsets.inSync && [...(f.tables?.values() ?? [])].every((t) => t.inSync));
  }

  get backend(): string | undefined {
    return this.binaries?.backend;
  }

  /** For `tortie status`: what is programmed. */
  summary(): { backend?: string; families: { ipVersion: IpVersion; chains: number; rules: number; ipsets: number }[] } {
    const families = this.families.map((f) => {
      let chains = 0;
      let rules = 0;
      for (const t of f.tables?.values() ?? []) {
        chains += t.programmedChainCount;
        rules += t.programmedRuleCount;
      }
      return { ipVersion: f.v, chains, rules, ipsets: f.ipsets.desiredCount };
    });
    return this.binaries ? { backend: this.binaries.backend, families } : { families };
  }

  // ---- desired state ----

  /** One round of policy messages, in the calc layer's dependency order. Throws nothing. */
  onMessages(msgs: readonly PolicyMessage[], reject: (kind: string, input: unknown, e: unknown) => void): void {
    for (const m of msgs) {
      try {
        this.onMessage(m);
      } catch (e) {
        reject(m.type, m, e);
      }
    }
  }

  /** The devices the calc layer wants: their presence and addresses shape the static chains. */
  setEncap(e: EncapState): void {
    if (JSON.stringify(e) === JSON.stringify(this.encap)) return;
    this.encap = e;
    for (const f of this.families) f.chains.reconfigure(this.renderConfig());
  }

  private renderConfig(): RenderConfig {
    const e = this.encap;
    return {
      ...this.opts.render,
      ipipEnabled: e.ipip,
      vxlanEnabled: e.vxlan,
      vxlanEnabledV6: e.vxlanV6,
      ...(e.ipipAddress ? { ipipTunnelAddress: e.ipipAddress } : {}),
      ...(e.vxlanAddress ? { vxlanTunnelAddress: e.vxlanAddress } : {}),
      ...(e.vxlanV6Address ? { vxlanTunnelAddressV6: e.vxlanV6Address } : {}),
    };
  }

  private onMessage(m: PolicyMessage): void {
    switch (m.type) {
      case 'ipset-update':
        for (const f of this.families) f.ipsets.setDesired(m.id, m.setType, m.members);
        if (m.id === IPSET_ID.masqPools) this.setMasq(m.members, undefined, true);
        return;
      case 'ipset-delta':
        for (const f of this.families) {
          if (m.removed.length) f.ipsets.removeMembers(m.id, m.removed);
          if (m.added.length) f.ipsets.addMembers(m.id, m.added);
        }
        if (m.id === IPSET_ID.masqPools) this.setMasq(m.added, m.removed, false);
        return;
      case 'ipset-remove':
        for (const f of this.families) f.ipsets.remove(m.id);
        if (m.id === IPSET_ID.masqPools) this.setMasq([], undefined, true);
        return;
      case 'policy-update':
        for (const f of this.families) f.chains.setPolicy(m.id, m.policy);
        return;
      case 'policy-remove':
        for (const f of this.families) f.chains.removePolicy(m.id);
        return;
      case 'profile-update':
        for (const f of this.families) f.chains.setProfile(m.id, m.profile);
        return;
      case 'profile-remove':
        for (const f of this.families) f.chains.removeProfile(m.id);
        return;
      case 'workload-endpoint-update':
        for (const f of this.families) f.chains.setWorkload(workloadEndpointKey(m.id), m.endpoint);
        return;
      case 'workload-endpoint-remove': {
        const key = workloadEndpointKey(m.id);
        for (const f of this.families) {
          for (const a of f.chains.workloadAddresses(key)) this.conntrackDue.add(a);
          f.chains.removeWorkload(key);
        }
        return;
      }
      case 'host-endpoint-update':
        for (const f of this.families) f.chains.setHost(m.id, m.endpoint);
        return;
      case 'host-endpoint-remove':
        for (const f of this.families) f.chains.removeHost(m.id);
        return;
    }
  }

  /** Tracks the natOutgoing pools per family: cali-nat-outgoing is empty without one. */
  private setMasq(added: readonly string[], removed: readonly string[] | undefined, replace: boolean): void {
    for (const f of this.families) {
      let s = this.masqMembers.get(f.v);
      if (!s || replace) this.masqMembers.set(f.v, (s = new Set()));
      for (const r of removed ?? []) s.delete(r);
      for (const a of added) if (a.includes(':') === (f.v === 6)) s.add(a);
      f.chains.setNatOutgoing(s.size > 0);
    }
  }

  // ---- the reconciler table's entries ----

  private async ipsetUpdates(): Promise<ReconcileResult> {
    const out = emptyResult();
    if (this.ipsetsResyncDue) {
      this.ipsetsResyncDue = false;
      try {
        for (const f of this.families) {
          const { drifted } = await f.ipsets.resync();
          if (drifted > 0) this.opts.onRepair?.('ipset', drifted);
        }
      } catch (e) {
        this.ipsetsResyncDue = true;
        throw e;
      }
    }
    for (const f of this.families) add(out, await f.ipsets.applyUpdates());
    if (out.failures) this.ipsetsResyncDue = true;
    return out;
  }

  private async ipsetDeletions(): Promise<ReconcileResult> {
    const out = emptyResult();
    for (const f of this.families) add(out, await f.ipsets.applyDeletions());
    return out;
  }

  private async tablesOf(f: Family): Promise<Map<TableName, IptablesTable>> {
    if (f.tables) return f.tables;
    if (!this.binaries) {
      const b = await resolveBackend(this.opts.backend, this.opts.runner, this.opts.netns);
      this.binaries = b;
      this.log.info({ backend: b.backend, reason: b.reason }, `iptables backend: ${b.backend} (${b.reason})`);
    }
    const metrics = this.opts.registry ? createIptablesMetrics(this.opts.registry) : undefined;
    const tables = new Map<TableName, IptablesTable>();
    for (const t of TABLES) {
      tables.set(
        t,
        new IptablesTable({
          table: t,
          ipVersion: f.v,
          binaries: this.binaries,
          runner: this.opts.runner,
          insertMode: this.opts.render.chainInsertMode ?? 'insert',
          log: this.log,
          ...(this.opts.netns ? { netns: this.opts.netns } : {}),
          ...(this.opts.lockTimeoutMs !== undefined ? { lockTimeoutMs: this.opts.lockTimeoutMs } : {}),
          ...(this.opts.lockFile ? { lockFile: this.opts.lockFile } : {}),
          ...(metrics ? { metrics } : {}),
        }),
      );
    }
    f.tables = tables;
    return tables;
  }

  private async iptablesUpdates(): Promise<ReconcileResult> {
    const out = emptyResult();
    const resync = this.iptablesResyncDue;
    this.iptablesResyncDue = false;
    try {
      for (const f of this.families) {
        const tables = await this.tablesOf(f);
        const delta = f.chains.flush();
        for (const [t, table] of tables) {
          const ups = delta.updates.get(t);
          if (ups) table.updateChains(ups);
          const rms = delta.removals.get(t);
          if (rms) table.removeChains(rms);
          if (delta.hooks) table.setHooks(delta.hooks.filter((h) => h.table === t));
        }
        if (resync) for (const table of tables.values()) this.countDrift((await table.resync()).drifted);
        for (const table of tables.values()) add(out, await table.applyUpdates());
      }
    } catch (e) {
      this.iptablesResyncDue = true;
      this.lastWriteOk = false;
      throw e;
    }
    this.lastWriteOk = out.failures === 0;
    if (out.failures) this.iptablesResyncDue = true;
    if (out.writes > 0) this.schedulePostWriteCheck();
    return out;
  }

  private async iptablesDeletions(): Promise<ReconcileResult> {
    const out = emptyResult();
    for (const f of this.families) {
      for (const table of f.tables?.values() ?? []) add(out, await table.applyDeletions());
    }
    if (out.failures === 0 && this.conntrackDue.size > 0) {
      // The removed workloads' rules and routes are gone: their flows must not live on in
      // conntrack, where RELATED,ESTABLISHED would still accept them (an address reused by the
      // next pod would inherit them).
      const addrs = [...this.conntrackDue];
      this.conntrackDue.clear();
      try {
        await flushConntrack(this.opts.runner, addrs, this.opts.netns);
      } catch (e) {
        this.log.warn({ err: errorMessage(e), addresses: addrs }, 'could not clear conntrack entries of removed workloads; established flows may linger until they time out');
      }
    }
    return out;
  }

  private countDrift(n: number): void {
    if (n <= 0) return;
    this.log.info({ drifted: n }, 'iptables changed behind our back; repairing');
    this.opts.onRepair?.('iptables', n);
  }

  // ---- timers ----

  /**
   * Runs `due` (mark a read-back due, wake the driver) after `ms`, and again every `ms` when
   * `repeat`; 0 disables. The handle is kept in `slot` so stop() can cancel it.
   */
  private timer(slot: 'ipsetsTimer' | 'iptablesTimer' | 'postWriteTimer', ms: number, repeat: boolean, due: () => void): void {
    if (ms <= 0 || !this.started) return;
    this[slot]?.cancel();
    this[slot] = this.clock.after(ms, () => {
      if (!this.started) return;
      due();
      this.opts.kick();
      if (repeat) this.timer(slot, ms, repeat, due);
    });
  }

  private scheduleIpsetsRefresh(): void {
    this.timer('ipsetsTimer', this.opts.ipsetsRefreshMs, true, () => (this.ipsetsResyncDue = true));
  }

  private scheduleIptablesRefresh(): void {
    this.timer('iptablesTimer', this.opts.iptablesRefreshMs, true, () => (this.iptablesResyncDue = true));
  }

  /** The quick re-check after a write: kube-proxy or another agent may have written at the same moment. */
  private schedulePostWriteCheck(): void {
    this.timer('postWriteTimer', this.opts.postWriteCheckMs, false, () => (this.iptablesResyncDue = true));
  }
}

function add(into: ReconcileResult, r: ReconcileResult): void {
  into.writes += r.writes;
  into.failures += r.failures;
  into.waiting += r.waiting;
  into.errors.push(...r.errors);
}

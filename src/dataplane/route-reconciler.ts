/**
 * Desired routes vs. the kernel's routes, for every route class (workload, local blocks, VXLAN,
 * IPIP, BGP) in the tables we own. `setRoute`/`deleteRoute` only queue; `apply()` writes all
 * differences in one batch; `resync()` reads the kernel back (startup, periodic refresh, after a
 * monitor event) so drift is repaired and restarts change nothing that is already right.
 *
 * Ownership (never touch what we cannot recognise): a kernel route is ours if it is in an owned
 * table and either carries one of our protocols (felix 80, bgp 81) or carries the device-route
 * protocol on a workload interface (`cali*`). Everything else — other daemons' routes, routes an
 * operator added with `ip route add` on any other interface — is invisible to this class. (A
 * `boot` route on a `cali*` interface is ours, as it is Felix's: it is removed if unwanted.)
 *
 * A route through an interface that is missing or down is not programmed (the kernel would
 * refuse it or black-hole traffic); it is added as soon as the interface comes up, and removed
 * when the interface goes down (Felix route table semantics).
 */
import { DeltaTracker } from './deltatracker.js';
import { canonicalAddr, canonicalCidr, familyOf } from './addr.js';
import { RT_SCOPE_LINK, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN } from './iproute2-routes.js';
import type { KernelRoute, OpResult, RouteNetlink, RouteOp } from './netlink.js';
import { DEFAULT_ROUTE_PROTOCOLS, ROUTE_CLASSES, type DesiredRoute, type RouteClass, type RouteProtocols } from './types.js';
import { silentLogger, type Logger } from '../util/log.js';

/**
 * A valid Linux interface name (the kernel's dev_valid_name): 1 to 15 bytes (IFNAMSIZ - 1), no
 * whitespace, '/' or ':'. Checked on entry because the name goes into an `ip -batch` line: a
 * space would smuggle extra words into the command.
 */
const IFNAME = /^[^\s/:]{1,15}$/;
/** Route priorities are u32 in rtnetlink (RTA_PRIORITY). */
const MAX_METRIC = 0xffff_ffff;

/** IPv6 routes without a metric get 1024 from the kernel (IP6_RT_PRIO_USER). */
const IPV6_DEFAULT_METRIC = 1024;

/** At most this many per-route errors are logged per apply; the rest are counted. */
const MAX_LOGGED_ERRORS = 10;

/**
 * Bound on routes queued by `setRoute` but not yet folded into the tracker, beyond twice the
 * desired table: a burst before the first apply (or churn while the datastore is not in sync)
 * cannot grow memory without limit. 262,144 routes is ~40 MB of queued route objects, and more
 * than a full startup of the 100,000-route scale target, which therefore never stops to fold.
 */
const INBOX_SLACK = 262_144;
/** Queued routes folded into the tracker per step while a batch is being written. */
const INBOX_STEP = 1024;

export interface RouteReconcilerOptions {
  netlink: RouteNetlink;
  protocols?: RouteProtocols;
  /** Interface name prefixes of workload interfaces (Felix `InterfacePrefix`), default ['cali']. */
  workloadPrefixes?: readonly string[];
  /** Tables whose routes we own, default [254]. */
  tables?: readonly number[];
  /** Address families to read back, default [4]. */
  families?: readonly (4 | 6)[];
  log?: Logger;
}

export interface ReconcileResult {
  writes: number;
  failures: number;
  /** Desired entries still waiting for something (an interface to appear or come up). */
  waiting: number;
  errors: string[];
}

/**
 * The tracker key of a route. A main-table route's key is its (canonical) destination itself: the
 * string the caller already has, so queueing 100,000 routes builds (and hashes) no new strings.
 * Other tables prefix the number; a CIDR never contains `|`, so the two cannot collide.
 */
export function routeKey(table: number, dst: string): string {
  return table === RT_TABLE_MAIN ? dst : `${table}|${dst}`;
}

function routesEqual(a: KernelRoute, b: KernelRoute): boolean {
  return (
    a.type === b.type &&
    a.dev === b.dev &&
    a.gateway === b.gateway &&
    a.onlink === b.onlink &&
    a.scope === b.scope &&
    a.protocol === b.protocol &&
    a.metric === b.metric &&
    a.src === b.src &&
    !a.unsupported &&
    !b.unsupported
  );
}

/** A desired route: the exact kernel route we expect, tagged with its class (not compared). */
type WantedRoute = KernelRoute & { cls: RouteClass };

export class RouteReconciler {
  readonly protocols: RouteProtocols;
  private readonly netlink: RouteNetlink;
  private readonly prefixes: readonly string[];
  private readonly tables: ReadonlySet<number>;
  private readonly families: readonly (4 | 6)[];
  private readonly log: Logger;
  /**
   * Desired = everything the calc layer wants. Routes whose interface is missing or down stay
   * desired but are skipped at apply time ("waiting"), so interface flaps cost nothing here.
   */
  private readonly tracker = new DeltaTracker<KernelRoute>(routesEqual);
  private readonly keysByDev = new Map<string, Set<string>>();
  private readonly upIfaces = new Set<string>();
  private readonly ifindex = new Map<string, number>();
  private linksKnown = false;
  /** Owned kernel routes that collided on a key with another owned route (e.g. two metrics). */
  private strays: KernelRoute[] = [];
  /**
   * Routes from `setRoute`, validated and canonical but not yet in the tracker, oldest first
   * (from `inboxHead` on). Folding them in (the map work, most of a `setRoute`) waits until the
   * apply, which on a node whose kernel holds none of our routes (a fresh start) does it step by
   * step while `ip` is already writing the first ones (see `apply`). Everything that reads the
   * tracker folds them in first (`absorb`), so no caller ever sees the difference.
   */
  private inbox: WantedRoute[] = [];
  private inboxHead = 0;

  constructor(opts: RouteReconcilerOptions) {
    this.netlink = opts.netlink;
    this.protocols = opts.protocols ?? DEFAULT_ROUTE_PROTOCOLS;
    this.prefixes = opts.workloadPrefixes ?? ['cali'];
    this.tables = new Set(opts.tables ?? [RT_TABLE_MAIN]);
    this.families = opts.families ?? [4];
    this.log = (opts.log ?? silentLogger).child({ component: 'route-reconciler' });
  }

  /** Turns a calc-layer route into the exact kernel route we expect to read back. */
  toKernel(r: DesiredRoute): WantedRoute {
    const dst = canonicalCidr(r.dst);
    const table = r.table ?? RT_TABLE_MAIN;
    if (!this.tables.has(table)) throw new Error(`route ${dst}: table ${table} is not owned by the route reconciler (owned: ${[...this.tables].join(', ')})`);
    const family = familyOf(dst);
    if (!this.families.includes(family)) throw new Error(`route ${dst}: IPv${family} routes are not enabled (families: ${this.families.join(', ')})`);
    const type = r.type ?? 'unicast';
    const protocol = r.class === 'workload' ? this.protocols.device : r.class === 'bgp' ? this.protocols.bgp : this.protocols.felix;
    if (type === 'unicast' && r.dev === undefined && r.gateway === undefined) throw new Error(`route ${dst}: a unicast route needs a device or a gateway`);
    const unicast = type === 'unicast';
    if (r.dev !== undefined && (!IFNAME.test(r.dev) || r.dev === '.' || r.dev === '..')) throw new Error(`route ${dst}: not a valid interface name: ${JSON.stringify(r.dev)}`);
    if (r.metric !== undefined && !(Number.isInteger(r.metric) && r.metric >= 0 && r.metric <= MAX_METRIC)) throw new Error(`route ${dst}: metric must be an integer 0..${MAX_METRIC}, got ${r.metric}`);
    // One literal with every field (undefined where absent) keeps all routes on one hidden
    // class: adding properties afterwards made this the hottest line of queueing 100,000 routes.
    const route: WantedRoute = {
      table,
      dst,
      type,
      dev: unicast ? r.dev : undefined,
      gateway: unicast && r.gateway !== undefined ? canonicalAddr(r.gateway) : undefined,
      onlink: r.onlink ?? false,
      // iproute2's rule for unicast routes without a gateway is scope link; we state it explicitly.
      scope: unicast && r.gateway === undefined ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE,
      protocol,
      metric: r.metric ?? (family === 6 ? IPV6_DEFAULT_METRIC : 0),
      src: r.src !== undefined ? canonicalAddr(r.src) : undefined,
      unsupported: false,
      cls: r.class,
    };
    return route;
  }

  /** True if a kernel route is one tortie manages (see the module comment). */
  owns(r: KernelRoute): boolean {
    if (!this.tables.has(r.table)) return false;
    if (r.type === 'other') return false;
    if (r.protocol === this.protocols.felix || r.protocol === this.protocols.bgp) return true;
    return r.protocol === this.protocols.device && r.dev !== undefined && this.isWorkloadIface(r.dev);
  }

  isWorkloadIface(name: string): boolean {
    return this.prefixes.some((p) => name.startsWith(p));
  }

  /** Validates and queues one route (throws on invalid input; nothing is queued then). */
  setRoute(r: DesiredRoute): void {
    const route = this.toKernel(r);
    this.inbox.push(route);
    if (this.inbox.length - this.inboxHead > 2 * this.tracker.desiredSize + INBOX_SLACK) this.absorb();
  }

  /**
   * Indexes one route by device before it goes into the tracker. Returns the previous desired
   * route for its key, if any. (Not one call with `setDesired`: returning both would allocate a
   * pair per route on the hot path.)
   */
  private indexDev(key: string, route: WantedRoute): KernelRoute | undefined {
    const prev = this.tracker.getDesired(key);
    const oldDev = prev?.dev;
    if (oldDev !== route.dev) {
      if (oldDev !== undefined) this.keysByDev.get(oldDev)?.delete(key);
      if (route.dev !== undefined) {
        let s = this.keysByDev.get(route.dev);
        if (!s) this.keysByDev.set(route.dev, (s = new Set()));
        s.add(key);
      }
    }
    return prev;
  }

  /** Folds queued routes into the tracker, up to `max` of them; calls `each` for every one. */
  private absorb(max = Infinity, each?: (key: string, route: WantedRoute, prev: KernelRoute | undefined, pending: boolean) => void): void {
    const inbox = this.inbox;
    const end = Math.min(inbox.length, this.inboxHead + max);
    while (this.inboxHead < end) {
      const route = inbox[this.inboxHead++]!;
      const key = routeKey(route.table, route.dst);
      const prev = this.indexDev(key, route);
      const pending = this.tracker.setDesired(key, route);
      if (each) each(key, route, prev, pending);
    }
    if (this.inboxHead === inbox.length) {
      this.inbox = [];
      this.inboxHead = 0;
    }
  }

  /** setRoute straight into the tracker, returning the route's key. */
  private setRouteKey(r: DesiredRoute): string {
    const route = this.toKernel(r);
    const key = routeKey(route.table, route.dst);
    this.indexDev(key, route);
    this.tracker.setDesired(key, route);
    return key;
  }

  deleteRoute(dst: string, table = RT_TABLE_MAIN): void {
    this.absorb();
    const key = routeKey(table, canonicalCidr(dst));
    const old = this.tracker.getDesired(key);
    if (!old) return;
    if (old.dev !== undefined) this.keysByDev.get(old.dev)?.delete(key);
    this.tracker.deleteDesired(key);
  }

  /**
   * Replaces every desired route (a resync from the calc layer). An invalid route is handed to
   * `onInvalid` (or thrown without it) and does not stop the others.
   */
  replaceAllRoutes(routes: Iterable<DesiredRoute>, onInvalid?: (r: DesiredRoute, e: unknown) => void): void {
    // Queued routes are older than this full set: fold them in so the replacement supersedes them.
    this.absorb();
    const fresh = new Set<string>();
    for (const r of routes) {
      try {
        fresh.add(this.setRouteKey(r));
      } catch (e) {
        if (!onInvalid) throw e;
        onInvalid(r, e);
      }
    }
    for (const [key, w] of [...this.tracker.desiredEntries()]) if (!fresh.has(key)) this.deleteRoute(w.dst, w.table);
  }

  /**
   * Tells the reconciler which interfaces exist and whether they are up (from the driver's link
   * listing). Routes through an interface follow its state on the next apply. An interface that
   * came back with a new ifindex is a new device: the kernel dropped the old one's routes.
   */
  setInterfaces(links: Iterable<{ name: string; index: number; up: boolean }>): void {
    this.linksKnown = true;
    const seen = new Set<string>();
    for (const l of links) {
      seen.add(l.name);
      const oldIndex = this.ifindex.get(l.name);
      if (oldIndex !== undefined && oldIndex !== l.index) {
        this.absorb();
        for (const key of this.keysByDev.get(l.name) ?? []) this.tracker.deleteActual(key);
      }
      this.ifindex.set(l.name, l.index);
      if (l.up) this.upIfaces.add(l.name);
      else this.upIfaces.delete(l.name);
    }
    for (const name of [...this.ifindex.keys()]) {
      if (seen.has(name)) continue;
      this.ifindex.delete(name);
      this.upIfaces.delete(name);
    }
  }

  /** Until the driver's first link listing nothing is known; it always lists before applying. */
  private isUp(dev: string): boolean {
    return !this.linksKnown || this.upIfaces.has(dev);
  }

  /** Reads our routes back from the kernel. Returns how many had drifted from an in-sync state. */
  async resync(): Promise<{ drifted: number }> {
    const owned = new Map<string, KernelRoute>();
    const strays: KernelRoute[] = [];
    for (const family of this.families) {
      for (const r of await this.netlink.dump(family)) {
        if (!this.owns(r)) continue;
        const key = routeKey(r.table, r.dst);
        const prev = owned.get(key);
        if (prev === undefined) {
          owned.set(key, r);
          continue;
        }
        // Two owned routes for one prefix (different metrics): keep the one we want, drop the other.
        this.absorb();
        const want = this.tracker.getDesired(key);
        if (want && routesEqual(want, r)) {
          strays.push(prev);
          owned.set(key, r);
        } else strays.push(r);
      }
    }
    this.strays = strays;
    // Drift is judged against what is desired, so queued routes count: fold them in, unless
    // neither the kernel nor our last picture of it holds any route of ours (nothing to judge).
    if (owned.size > 0 || this.tracker.actualSize > 0) this.absorb();
    return this.tracker.replaceAllActual(owned);
  }

  /** Nothing to do but wait for interfaces. */
  get inSync(): boolean {
    this.absorb();
    if (this.strays.length > 0 || this.tracker.pendingDeletionCount > 0) return false;
    for (const [, want] of this.tracker.pendingUpdates()) if (want.dev === undefined || this.isUp(want.dev)) return false;
    for (const [dev, keys] of this.keysByDev) if (!this.isUp(dev)) for (const k of keys) if (this.tracker.getActual(k)) return false;
    return true;
  }

  /** Desired routes per class that the kernel holds (for `tortie_routes_programmed`). */
  programmedByClass(): Map<RouteClass, number> {
    this.absorb();
    const counts = new Map<RouteClass, number>(ROUTE_CLASSES.map((c) => [c, 0]));
    for (const [key, w] of this.tracker.desiredEntries()) {
      const a = this.tracker.getActual(key);
      if (a !== undefined && (a === w || routesEqual(a, w))) {
        const cls = (w as WantedRoute).cls;
        counts.set(cls, (counts.get(cls) ?? 0) + 1);
      }
    }
    return counts;
  }

  /**
   * Writes every pending difference in one batch: deletions first, then replacements.
   *
   * Queued routes (`inbox`) are folded into the tracker first when the kernel holds routes of
   * ours, because only then can one of them cancel a deletion. When it holds none (a fresh node),
   * nothing can be deleted, so the batch starts with what the tracker already has pending and
   * folds the queued routes in step by step as `ip` asks for more lines: the map work of 100,000
   * new routes runs beside the kernel's work instead of before it.
   */
  async apply(): Promise<ReconcileResult> {
    if (this.tracker.actualSize > 0 || this.strays.length > 0) this.absorb();
    const ops: RouteOp[] = [];
    const keys: (string | undefined)[] = [];
    for (const r of this.strays) {
      ops.push({ op: 'delete', route: r });
      keys.push(undefined);
    }
    for (const [key, actual] of this.tracker.pendingDeletions()) {
      ops.push({ op: 'delete', route: actual });
      keys.push(key);
    }
    // Routes through an interface that went down (carrier lost: the kernel keeps them, marked
    // linkdown) are removed; they stay desired and come back when the interface does.
    for (const [dev, devKeys] of this.keysByDev) {
      if (this.isUp(dev)) continue;
      for (const key of devKeys) {
        const actual = this.tracker.getActual(key);
        if (actual === undefined) continue;
        ops.push({ op: 'delete', route: actual });
        keys.push(key);
      }
    }
    let waiting = 0;
    const replace = (key: string, want: KernelRoute, prev: KernelRoute | undefined): void => {
      if (want.dev !== undefined && !this.isUp(want.dev)) {
        waiting++;
        return;
      }
      const actual = this.tracker.getActual(key);
      // `replace` matches on (table, dst, tos, metric): a metric change would add a second route.
      // `prev` is a route for the same key already in this batch (queued twice): same rule.
      if (prev !== undefined && prev !== actual && prev.metric !== want.metric) {
        ops.push({ op: 'delete', route: prev });
        keys.push(undefined);
      }
      if (actual !== undefined && actual.metric !== want.metric) {
        ops.push({ op: 'delete', route: actual });
        keys.push(undefined);
      }
      ops.push({ op: 'replace', route: want });
      keys.push(key);
    };
    for (const [key, want] of this.tracker.pendingUpdates()) replace(key, want, undefined);
    // Routes queued since (or during) this apply, folded in as `ip` asks for more.
    const more = (): boolean => {
      if (this.inboxHead === this.inbox.length) return false;
      this.absorb(INBOX_STEP, (key, want, prev, pending) => {
        if (pending) replace(key, want, prev);
      });
      return true;
    };
    if (ops.length === 0 && this.inboxHead === this.inbox.length) return { writes: 0, failures: 0, waiting, errors: [] };
    // Book the writes as done chunk by chunk while the kernel works through them (the batch runs
    // in another process; this bookkeeping is ~0.1 s of JS at 100,000 routes and fits in the
    // time spent waiting for the pipe to drain), then undo the few that failed. If the whole
    // batch fails, undo everything: the read-back that follows a failure finds what happened.
    const before: (KernelRoute | undefined)[] = [];
    let booked = 0;
    const book = (from: number, to: number): void => {
      for (let i = from; i < to; i++) {
        const key = keys[i];
        if (key === undefined) continue;
        const op = ops[i]!;
        before[i] = this.tracker.getActual(key);
        if (op.op === 'replace') this.tracker.setActual(key, op.route);
        else this.tracker.deleteActual(key);
      }
      booked = to;
    };
    const undo = (i: number): void => {
      const key = keys[i];
      if (key === undefined) return;
      const prev = before[i];
      if (prev === undefined) this.tracker.deleteActual(key);
      else this.tracker.setActual(key, prev);
    };
    let results: OpResult[];
    try {
      results = await this.netlink.apply(ops, { onSent: book, more });
    } catch (e) {
      for (let i = booked - 1; i >= 0; i--) undo(i);
      throw e;
    }
    if (booked < ops.length) book(booked, ops.length);
    const errors: string[] = [];
    let failures = 0;
    const stillStray: KernelRoute[] = [];
    for (let i = 0; i < ops.length; i++) {
      const res = results[i];
      if (res?.ok) continue;
      const op = ops[i]!;
      failures++;
      const msg = `${op.op} ${op.route.dst}${op.route.dev ? ` dev ${op.route.dev}` : ''}: ${res?.error ?? 'no result'}`;
      if (errors.length < MAX_LOGGED_ERRORS) errors.push(msg);
      if (keys[i] === undefined && op.op === 'delete') stillStray.push(op.route);
      undo(i);
    }
    this.strays = stillStray;
    if (failures > 0) this.log.warn({ failures, examples: errors }, 'some route writes failed; will retry');
    return { writes: ops.length - failures, failures, waiting, errors };
  }
}

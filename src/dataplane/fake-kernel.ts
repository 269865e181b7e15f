/**
 * An in-memory kernel implementing every dataplane interface, for unit tests of reconciler and
 * driver logic (Felix's `mock_netlink`). It enforces the rules the real kernel enforces that our
 * logic depends on: routes need an existing, up device; neighbours and FDB entries need their
 * device; ipip devices can be refused ("Unknown device type"); deleting what is absent fails.
 * Every write is recorded so tests can assert "zero writes".
 */
import type {
  FdbOp,
  KernelFdb,
  KernelLink,
  KernelNeigh,
  KernelRoute,
  LinkNetlink,
  LinkOp,
  NeighNetlink,
  NeighOp,
  OpResult,
  RouteApplyOptions,
  RouteNetlink,
  RouteOp,
  SysctlIO,
} from './netlink.js';
import type { DataplaneKernel } from './dataplane.js';
import { familyOf } from './addr.js';

const rkey = (r: KernelRoute): string => `${r.table}|${r.dst}|${r.metric}`;

export class FakeKernel implements DataplaneKernel {
  readonly routeTable = new Map<string, KernelRoute>();
  readonly linkTable = new Map<string, KernelLink>();
  readonly neighTable = new Map<string, KernelNeigh>();
  readonly fdbTable = new Map<string, KernelFdb>();
  readonly sysctlTable = new Map<string, string>();
  /** Every op attempted, in order, as a short text. */
  readonly writes: string[] = [];
  /** When true, `ip link add ... type ipip` fails like a kernel without the ipip module. */
  ipipUnsupported = false;
  /** Routes to fail once with this message (keyed by dst), to exercise retries. */
  readonly failRouteOnce = new Map<string, string>();
  /** While true every call rejects outright (a hung or failing `ip`). */
  broken = false;
  /** The next route batch is submitted (onSent runs), then dies without writing anything. */
  dieAfterSubmit = false;
  private nextIndex = 10;

  addLink(name: string, opts: Partial<KernelLink> = {}): KernelLink {
    const l: KernelLink = { name, index: this.nextIndex++, adminUp: true, lowerUp: true, mtu: 1500, addresses: [], ...opts };
    this.linkTable.set(name, l);
    for (const p of ['net/ipv4/conf/IF/forwarding', 'net/ipv4/conf/IF/route_localnet', 'net/ipv4/conf/IF/proxy_arp', 'net/ipv6/conf/IF/accept_ra']) this.sysctlTable.set(p.replace('IF', name), '0');
    this.sysctlTable.set(`net/ipv4/neigh/${name}/proxy_delay`, '80');
    return l;
  }

  removeLink(name: string): void {
    this.linkTable.delete(name);
    for (const [k, r] of this.routeTable) if (r.dev === name) this.routeTable.delete(k);
    for (const [k, n] of this.neighTable) if (n.dev === name) this.neighTable.delete(k);
    for (const [k, f] of this.fdbTable) if (f.dev === name) this.fdbTable.delete(k);
    for (const k of [...this.sysctlTable.keys()]) if (k.split('/')[3] === name) this.sysctlTable.delete(k);
  }

  setLinkUp(name: string, up: boolean): void {
    const l = this.linkTable.get(name);
    if (!l) return;
    l.adminUp = up;
    l.lowerUp = up;
    // IPv4 routes through an administratively down device are flushed by the kernel.
    if (!up) for (const [k, r] of this.routeTable) if (r.dev === name) this.routeTable.delete(k);
  }

  routeList(): KernelRoute[] {
    return [...this.routeTable.values()];
  }

  private gate(): void {
    if (this.broken) throw new Error('ip: simulated failure to run');
  }

  routes: RouteNetlink = {
    dump: async (family) => {
      this.gate();
      return [...this.routeTable.values()].filter((r) => familyOf(r.dst) === family).map((r) => ({ ...r }));
    },
    apply: async (ops: readonly RouteOp[], opts: RouteApplyOptions = {}): Promise<OpResult[]> => {
      this.gate();
      // Like a real batch: every op is worked out before the last is written.
      if (opts.more) while (opts.more());
      await opts.onSent?.(0, ops.length);
      if (this.dieAfterSubmit) {
        this.dieAfterSubmit = false;
        throw new Error('ip: killed by SIGKILL (timed out)');
      }
      return ops.map((o) => {
        this.writes.push(`route ${o.op} ${o.route.dst}`);
        const k = rkey(o.route);
        if (o.op === 'delete') {
          const have = this.routeTable.get(k);
          if (!have || have.protocol !== o.route.protocol) return { ok: true }; // "No such process" is success for deletes
          this.routeTable.delete(k);
          return { ok: true };
        }
        const fail = this.failRouteOnce.get(o.route.dst);
        if (fail) {
          this.failRouteOnce.delete(o.route.dst);
          return { ok: false, error: fail };
        }
        if (o.route.dev !== undefined) {
          const l = this.linkTable.get(o.route.dev);
          if (!l) return { ok: false, error: 'Cannot find device "' + o.route.dev + '"' };
          if (!l.adminUp) return { ok: false, error: 'Error: Nexthop device is not up.' };
        }
        this.routeTable.set(k, { ...o.route });
        return { ok: true };
      });
    },
  };

  links: LinkNetlink = {
    list: async () => {
      this.gate();
      return [...this.linkTable.values()].map((l) => ({ ...l, addresses: [...l.addresses] }));
    },
    apply: async (ops: readonly LinkOp[]): Promise<OpResult[]> => {
      this.gate();
      return ops.map((o): OpResult => {
        this.writes.push(`link ${o.op} ${o.name}`);
        const l = this.linkTable.get(o.name);
        switch (o.op) {
          case 'add-vxlan':
            if (l) return { ok: false, error: 'RTNETLINK answers: File exists' };
            this.addLink(o.name, { kind: 'vxlan', vxlan: { ...o.vxlan }, adminUp: false, lowerUp: false, mac: '02:00:00:00:00:01' });
            return { ok: true };
          case 'add-ipip':
            if (this.ipipUnsupported) return { ok: false, error: 'Error: Unknown device type.' };
            if (l) return { ok: false, error: 'RTNETLINK answers: File exists' };
            this.addLink(o.name, { kind: 'ipip', adminUp: false, lowerUp: false, mtu: 1480 });
            return { ok: true };
          case 'delete':
            if (!l) return { ok: false, error: 'Cannot find device "' + o.name + '"' };
            this.removeLink(o.name);
            return { ok: true };
          case 'set':
            if (!l) return { ok: false, error: 'Cannot find device "' + o.name + '"' };
            if (o.mtu !== undefined) l.mtu = o.mtu;
            if (o.mac !== undefined) l.mac = o.mac;
            if (o.up !== undefined) {
              l.adminUp = o.up;
              l.lowerUp = o.up;
            }
            return { ok: true };
          case 'addr-add':
            if (!l) return { ok: false, error: 'Cannot find device "' + o.name + '"' };
            if (!l.addresses.includes(o.cidr)) l.addresses.push(o.cidr);
            return { ok: true };
          case 'addr-del':
            if (!l) return { ok: false, error: 'Cannot find device "' + o.name + '"' };
            l.addresses = l.addresses.filter((a) => a !== o.cidr);
            return { ok: true };
        }
        return { ok: false, error: 'unknown op' };
      });
    },
  };

  neigh: NeighNetlink = {
    dumpNeigh: async (dev) => {
      this.gate();
      return [...this.neighTable.values()].filter((n) => n.dev === dev).map((n) => ({ ...n }));
    },
    dumpFdb: async (dev) => {
      this.gate();
      return [...this.fdbTable.values()].filter((f) => f.dev === dev).map((f) => ({ ...f }));
    },
    applyNeigh: async (ops: readonly NeighOp[]) => {
      this.gate();
      return ops.map((o) => {
        this.writes.push(`neigh ${o.op} ${o.neigh.ip}`);
        if (!this.linkTable.has(o.neigh.dev)) return { ok: false, error: 'Cannot find device' };
        const k = `${o.neigh.dev}|${o.neigh.ip}`;
        if (o.op === 'replace') this.neighTable.set(k, { ...o.neigh });
        else this.neighTable.delete(k);
        return { ok: true };
      });
    },
    applyFdb: async (ops: readonly FdbOp[]) => {
      this.gate();
      return ops.map((o) => {
        this.writes.push(`fdb ${o.op} ${o.fdb.mac}`);
        if (!this.linkTable.has(o.fdb.dev)) return { ok: false, error: 'Cannot find device' };
        const k = `${o.fdb.dev}|${o.fdb.mac}`;
        if (o.op === 'replace') this.fdbTable.set(k, { ...o.fdb });
        else this.fdbTable.delete(k);
        return { ok: true };
      });
    },
  };

  sysctl: SysctlIO = {
    read: async (paths) => {
      this.gate();
      return new Map(paths.map((p) => [p, this.sysctlTable.get(p)]));
    },
    write: async (entries) => {
      this.gate();
      return entries.map(([p, v]) => {
        this.writes.push(`sysctl ${p}=${v}`);
        const iface = p.split('/')[3];
        const global = p === 'net/ipv4/ip_forward' || p.startsWith('net/ipv6/conf/all/');
        if (!global && iface !== undefined && !this.linkTable.has(iface)) return { ok: false, error: 'No such file or directory' };
        this.sysctlTable.set(p, v);
        return { ok: true };
      });
    },
  };
}

/**
 * Interface and global sysctls, Felix's per-workload-interface settings:
 * `proxy_arp=1` (answer the pod's ARP for its 169.254.1.1 gateway), `neigh/<if>/proxy_delay=0`,
 * `forwarding=1`, `route_localnet=1`, IPv6 `accept_ra=0` (and with IPv6 `proxy_ndp=1`,
 * `forwarding=1`), plus global `net/ipv4/ip_forward=1`.
 *
 * Only the keys we set are ever read back (never a full `sysctl -a`); a changed value is a drift
 * and is rewritten on the next apply. Keys of an interface that vanished are dropped without a
 * write (the kernel already dropped them).
 */
import { DeltaTracker } from './deltatracker.js';
import type { SysctlIO } from './netlink.js';
import type { ReconcileResult } from './route-reconciler.js';
import { silentLogger, type Logger } from '../util/log.js';

/** Per-interface settings (path template with `IF`), from Felix's endpoint manager. */
const IFACE_V4: readonly (readonly [string, string])[] = [
  ['net/ipv4/conf/IF/forwarding', '1'],
  ['net/ipv4/conf/IF/route_localnet', '1'],
  ['net/ipv4/conf/IF/proxy_arp', '1'],
  ['net/ipv4/neigh/IF/proxy_delay', '0'],
  ['net/ipv6/conf/IF/accept_ra', '0'],
];
const IFACE_V6: readonly (readonly [string, string])[] = [
  ['net/ipv6/conf/IF/proxy_ndp', '1'],
  ['net/ipv6/conf/IF/forwarding', '1'],
];
const GLOBAL_V4: readonly (readonly [string, string])[] = [['net/ipv4/ip_forward', '1']];
const GLOBAL_V6: readonly (readonly [string, string])[] = [['net/ipv6/conf/all/forwarding', '1']];

export function interfaceSysctls(iface: string, ipv6: boolean): [string, string][] {
  return [...IFACE_V4, ...(ipv6 ? IFACE_V6 : [])].map(([p, v]) => [p.replace('IF', iface), v]);
}

export class SysctlReconciler {
  private readonly io: SysctlIO;
  private readonly ipv6: boolean;
  private readonly log: Logger;
  private readonly tracker = new DeltaTracker<string>((a, b) => a === b);
  private readonly ifaces = new Set<string>();

  constructor(opts: { io: SysctlIO; ipv6?: boolean; log?: Logger }) {
    this.io = opts.io;
    this.ipv6 = opts.ipv6 ?? false;
    this.log = (opts.log ?? silentLogger).child({ component: 'sysctl-reconciler' });
    for (const [p, v] of [...GLOBAL_V4, ...(this.ipv6 ? GLOBAL_V6 : [])]) this.tracker.setDesired(p, v);
  }

  /** The workload interfaces that exist now; their sysctls are wanted, vanished ones dropped. */
  setInterfaces(names: Iterable<string>): void {
    const next = new Set(names);
    for (const n of [...this.ifaces]) {
      if (next.has(n)) continue;
      this.ifaces.delete(n);
      for (const [p] of interfaceSysctls(n, this.ipv6)) {
        this.tracker.deleteDesired(p);
        this.tracker.deleteActual(p);
      }
    }
    for (const n of next) {
      if (this.ifaces.has(n)) continue;
      this.ifaces.add(n);
      for (const [p, v] of interfaceSysctls(n, this.ipv6)) this.tracker.setDesired(p, v);
    }
  }

  async resync(): Promise<{ drifted: number }> {
    const paths = [...this.tracker.desiredKeys()];
    const values = await this.io.read(paths);
    const actual = new Map<string, string>();
    for (const [p, v] of values) if (v !== undefined) actual.set(p, v);
    return this.tracker.replaceAllActual(actual);
  }

  get inSync(): boolean {
    return this.tracker.inSync;
  }

  async apply(): Promise<ReconcileResult> {
    // Keys only ever leave through setInterfaces; nothing to undo in the kernel.
    for (const [p] of [...this.tracker.pendingDeletions()]) this.tracker.deleteActual(p);
    const entries = [...this.tracker.pendingUpdates()];
    if (entries.length === 0) return { writes: 0, failures: 0, waiting: 0, errors: [] };
    const res = await this.io.write(entries);
    const errors: string[] = [];
    let failures = 0;
    entries.forEach(([p, v], i) => {
      const r = res[i];
      if (r?.ok) this.tracker.setActual(p, v);
      else if (/No such file|cannot stat|ENOENT/i.test(r?.error ?? '')) {
        // Interface vanished between listing and writing: the next link listing drops it.
      } else {
        failures++;
        errors.push(`${p}=${v}: ${r?.error ?? 'no result'}`);
      }
    });
    if (failures > 0) this.log.warn({ errors }, 'some sysctl writes failed; will retry');
    return { writes: entries.length - failures, failures, waiting: 0, errors };
  }
}

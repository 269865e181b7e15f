/**
 * Remote VXLAN tunnel endpoints: for each, a permanent ARP/ND entry (tunnel IP → VTEP MAC) and a
 * bridge FDB entry (VTEP MAC → remote host IP) on the VXLAN device, so the kernel never has to
 * learn or flood. Owned: permanent neighbours and FDB entries with a `dst` on our VXLAN devices;
 * nothing on any other device is read or touched.
 *
 * Entries for a device that does not exist yet stay pending; they are written in the same apply
 * that creates the device (the driver runs links first).
 */
import { DeltaTracker } from './deltatracker.js';
import { canonicalAddr, canonicalMac } from './addr.js';
import type { NeighNetlink, NeighOp, FdbOp } from './netlink.js';
import type { ReconcileResult } from './route-reconciler.js';
import { VXLAN_DEVICE, type RemoteVtep } from './types.js';
import { silentLogger, type Logger } from '../util/log.js';

interface NeighVal {
  dev: string;
  ip: string;
  mac: string;
}
interface FdbVal {
  dev: string;
  mac: string;
  dst: string;
}

const neighEq = (a: NeighVal, b: NeighVal): boolean => a.mac === b.mac;
const fdbEq = (a: FdbVal, b: FdbVal): boolean => a.dst === b.dst;

export class NeighReconciler {
  private readonly netlink: NeighNetlink;
  private readonly log: Logger;
  private readonly neigh = new DeltaTracker<NeighVal>(neighEq);
  private readonly fdb = new DeltaTracker<FdbVal>(fdbEq);
  private readonly vteps = new Map<string, { neighKey: string; fdbKey: string }>();
  /** VXLAN devices we own; only these are dumped. */
  private readonly devices = new Set<string>([VXLAN_DEVICE]);
  private readonly present = new Set<string>();

  constructor(opts: { netlink: NeighNetlink; log?: Logger }) {
    this.netlink = opts.netlink;
    this.log = (opts.log ?? silentLogger).child({ component: 'neigh-reconciler' });
  }

  setVtep(v: RemoteVtep): void {
    const dev = v.dev ?? VXLAN_DEVICE;
    this.devices.add(dev);
    const ip = canonicalAddr(v.tunnelIp);
    const mac = canonicalMac(v.mac);
    const neighKey = `${dev}|${ip}`;
    const fdbKey = `${dev}|${mac}`;
    this.deleteVtep(v.node);
    this.vteps.set(v.node, { neighKey, fdbKey });
    this.neigh.setDesired(neighKey, { dev, ip, mac });
    this.fdb.setDesired(fdbKey, { dev, mac, dst: canonicalAddr(v.hostIp) });
  }

  deleteVtep(node: string): void {
    const old = this.vteps.get(node);
    if (!old) return;
    this.vteps.delete(node);
    this.neigh.deleteDesired(old.neighKey);
    this.fdb.deleteDesired(old.fdbKey);
  }

  replaceAllVteps(vteps: Iterable<RemoteVtep>): void {
    const keep = new Set<string>();
    for (const v of vteps) {
      this.setVtep(v);
      keep.add(v.node);
    }
    for (const node of [...this.vteps.keys()]) if (!keep.has(node)) this.deleteVtep(node);
  }

  /** Which of our VXLAN devices exist right now (from the driver's link listing). */
  setPresentDevices(names: Iterable<string>): void {
    this.present.clear();
    for (const n of names) if (this.devices.has(n)) this.present.add(n);
  }

  async resync(): Promise<{ neighDrifted: number; fdbDrifted: number }> {
    const n = new Map<string, NeighVal>();
    const f = new Map<string, FdbVal>();
    for (const dev of this.present) {
      for (const e of await this.netlink.dumpNeigh(dev)) if (e.permanent) n.set(`${dev}|${e.ip}`, { dev, ip: e.ip, mac: e.mac });
      for (const e of await this.netlink.dumpFdb(dev)) if (e.dst !== undefined) f.set(`${dev}|${e.mac}`, { dev, mac: e.mac, dst: e.dst });
    }
    return { neighDrifted: this.neigh.replaceAllActual(n).drifted, fdbDrifted: this.fdb.replaceAllActual(f).drifted };
  }

  get inSync(): boolean {
    return this.neigh.inSync && this.fdb.inSync;
  }

  /** Adds/updates entries on devices that exist (before routes that rely on them). */
  async applyUpdates(): Promise<ReconcileResult> {
    const nOps: { key: string; op: NeighOp }[] = [];
    const fOps: { key: string; op: FdbOp }[] = [];
    let waiting = 0;
    for (const [key, v] of this.neigh.pendingUpdates()) {
      if (!this.present.has(v.dev)) waiting++;
      else nOps.push({ key, op: { op: 'replace', neigh: { ...v, permanent: true } } });
    }
    for (const [key, v] of this.fdb.pendingUpdates()) {
      if (!this.present.has(v.dev)) waiting++;
      else {
        // The FDB is keyed on MAC: a changed dst must not leave the old entry behind.
        const old = this.fdb.getActual(key);
        if (old) fOps.push({ key: '', op: { op: 'delete', fdb: { ...old, permanent: true } } });
        fOps.push({ key, op: { op: 'replace', fdb: { ...v, permanent: true } } });
      }
    }
    return this.run(nOps, fOps, waiting);
  }

  /** Removes entries nobody wants (after the routes through them are gone). */
  async applyDeletions(): Promise<ReconcileResult> {
    const nOps: { key: string; op: NeighOp }[] = [];
    const fOps: { key: string; op: FdbOp }[] = [];
    for (const [key, v] of this.neigh.pendingDeletions()) nOps.push({ key, op: { op: 'delete', neigh: { ...v, permanent: true } } });
    for (const [key, v] of this.fdb.pendingDeletions()) fOps.push({ key, op: { op: 'delete', fdb: { ...v, permanent: true } } });
    return this.run(nOps, fOps, 0);
  }

  private async run(nOps: { key: string; op: NeighOp }[], fOps: { key: string; op: FdbOp }[], waiting: number): Promise<ReconcileResult> {
    const errors: string[] = [];
    let failures = 0;
    let writes = 0;
    if (nOps.length > 0) {
      const res = await this.netlink.applyNeigh(nOps.map((o) => o.op));
      nOps.forEach((o, i) => {
        const r = res[i];
        if (!r?.ok) {
          failures++;
          errors.push(`neigh ${o.op.op} ${o.op.neigh.ip} dev ${o.op.neigh.dev}: ${r?.error ?? 'no result'}`);
          return;
        }
        writes++;
        if (o.op.op === 'replace') this.neigh.setActual(o.key, o.op.neigh);
        else this.neigh.deleteActual(o.key);
      });
    }
    if (fOps.length > 0) {
      const res = await this.netlink.applyFdb(fOps.map((o) => o.op));
      fOps.forEach((o, i) => {
        const r = res[i];
        if (!r?.ok) {
          failures++;
          errors.push(`fdb ${o.op.op} ${o.op.fdb.mac} dev ${o.op.fdb.dev}: ${r?.error ?? 'no result'}`);
          return;
        }
        writes++;
        if (!o.key) return;
        const f = o.op.fdb;
        if (o.op.op === 'replace') this.fdb.setActual(o.key, { dev: f.dev, mac: f.mac, dst: f.dst ?? '' });
        else this.fdb.deleteActual(o.key);
      });
    }
    if (failures > 0) this.log.warn({ errors }, 'some VTEP neighbour/FDB writes failed; will retry');
    return { writes, failures, waiting, errors };
  }
}

/**
 * Tunnel devices: `vxlan.calico` (and `vxlan-v6.calico`) and `tunl0`, with their MTU, MAC,
 * address and up state. Owned by name only; no other link is ever read for change or touched.
 *
 * Parameters the kernel cannot change in place (kind, VNI, port, parent, local address) are
 * fixed by deleting and re-creating the device; MTU, MAC, up state and addresses are set in place.
 *
 * IPIP availability: a kernel without the ipip module refuses `ip link add tunl0 type ipip`
 * ("Unknown device type"). That is reported once (log + `tortie_ipip_available` 0 + status),
 * is not counted as a dataplane failure (retrying cannot help), and is probed again on the next
 * refresh in case the module appears. VXLAN and everything else keep working.
 */
import { DeltaTracker } from './deltatracker.js';
import { canonicalCidr, canonicalMac } from './addr.js';
import type { KernelLink, LinkNetlink, LinkOp, VxlanInfo } from './netlink.js';
import type { ReconcileResult } from './route-reconciler.js';
import { IPIP_DEVICE, VXLAN_DEVICE, VXLAN_V6_DEVICE, type IpipDeviceSpec, type VxlanDeviceSpec } from './types.js';
import { silentLogger, type Logger } from '../util/log.js';

/** What we compare: one normalised record per owned device. */
export interface LinkState {
  name: string;
  kind: 'vxlan' | 'ipip';
  vxlan?: VxlanInfo;
  mac?: string;
  mtu: number;
  up: boolean;
  /** Sorted CIDRs. */
  addresses: string[];
}

/** Errors that mean "this kernel cannot make an ipip device", not "try again". */
const IPIP_UNSUPPORTED = /Unknown device type|Operation not supported|not supported|No such device/i;

function vxlanEqual(a?: VxlanInfo, b?: VxlanInfo): boolean {
  if (!a || !b) return a === b;
  return a.vni === b.vni && a.port === b.port && a.parent === b.parent && a.local === b.local && a.learning === b.learning;
}

function sameAddrs(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function linksEqual(a: LinkState, b: LinkState): boolean {
  return (
    a.kind === b.kind &&
    vxlanEqual(a.vxlan, b.vxlan) &&
    (a.mac === undefined || b.mac === undefined || a.mac === b.mac) &&
    a.mtu === b.mtu &&
    a.up === b.up &&
    sameAddrs(a.addresses, b.addresses)
  );
}

export interface LinkReconcilerOptions {
  netlink: LinkNetlink;
  log?: Logger;
  /** Called when IPIP availability changes (metric/status hook). */
  onIpipAvailability?: (available: boolean, reason?: string) => void;
}

export class LinkReconciler {
  private readonly netlink: LinkNetlink;
  private readonly log: Logger;
  private readonly tracker = new DeltaTracker<LinkState>(linksEqual);
  private readonly ownedNames = new Set([VXLAN_DEVICE, VXLAN_V6_DEVICE, IPIP_DEVICE]);
  private readonly onIpip: (available: boolean, reason?: string) => void;
  private ipip: { available: boolean | undefined; reason?: string; probeDue: boolean } = { available: undefined, probeDue: true };

  constructor(opts: LinkReconcilerOptions) {
    this.netlink = opts.netlink;
    this.log = (opts.log ?? silentLogger).child({ component: 'link-reconciler' });
    this.onIpip = opts.onIpipAvailability ?? (() => undefined);
  }

  /** Undefined until tunl0 was wanted once; false with a reason once the kernel refused it. */
  get ipipAvailable(): boolean | undefined {
    return this.ipip.available;
  }
  get ipipUnavailableReason(): string | undefined {
    return this.ipip.reason;
  }

  setVxlanDevice(spec: VxlanDeviceSpec | undefined, name = spec?.name ?? VXLAN_DEVICE): void {
    this.ownedNames.add(name);
    if (!spec) {
      this.tracker.deleteDesired(name);
      return;
    }
    const vxlan: VxlanInfo = { vni: spec.vni, port: spec.port, learning: false };
    if (spec.parent !== undefined) vxlan.parent = spec.parent;
    if (spec.local !== undefined) vxlan.local = spec.local;
    this.tracker.setDesired(name, {
      name,
      kind: 'vxlan',
      vxlan,
      mac: canonicalMac(spec.mac),
      mtu: spec.mtu,
      up: true,
      addresses: spec.address ? [canonicalCidr(spec.address)] : [],
    });
  }

  setIpipDevice(spec: IpipDeviceSpec | undefined): void {
    if (!spec) {
      this.tracker.deleteDesired(IPIP_DEVICE);
      return;
    }
    this.tracker.setDesired(IPIP_DEVICE, { name: IPIP_DEVICE, kind: 'ipip', mtu: spec.mtu, up: true, addresses: spec.address ? [canonicalCidr(spec.address)] : [] });
  }

  /** Takes the driver's link listing as the actual state. Returns drift since the last look. */
  observe(links: readonly KernelLink[]): { drifted: number } {
    const owned = new Map<string, LinkState>();
    for (const l of links) {
      if (!this.ownedNames.has(l.name)) continue;
      const kind = l.kind === 'vxlan' ? 'vxlan' : l.kind === 'ipip' ? 'ipip' : undefined;
      // A device with our name but of another kind is still ours to fix (re-created as the right kind).
      const state: LinkState = { name: l.name, kind: kind ?? (l.name === IPIP_DEVICE ? 'ipip' : 'vxlan'), mtu: l.mtu, up: l.adminUp, addresses: [...l.addresses].sort() };
      if (kind === undefined) state.mtu = -1; // forces a mismatch
      if (l.vxlan) state.vxlan = l.vxlan;
      if (l.mac !== undefined && kind === 'vxlan') state.mac = l.mac;
      // An unwanted tunl0 with no addresses is just the kernel's fallback device: not ours to manage.
      if (l.name === IPIP_DEVICE && !this.tracker.getDesired(IPIP_DEVICE) && state.addresses.length === 0) continue;
      owned.set(l.name, state);
    }
    return this.tracker.replaceAllActual(owned);
  }

  /** The next refresh probes for ipip again. */
  scheduleIpipProbe(): void {
    this.ipip.probeDue = true;
  }

  get inSync(): boolean {
    // An IPIP device the kernel cannot make does not count as out of sync.
    for (const [name] of this.tracker.pendingUpdates()) if (!(name === IPIP_DEVICE && this.ipip.available === false)) return false;
    return this.tracker.pendingDeletionCount === 0;
  }

  private opsFor(want: LinkState, have: LinkState | undefined): LinkOp[] {
    const ops: LinkOp[] = [];
    const recreate = have !== undefined && (have.kind !== want.kind || have.mtu === -1 || !vxlanEqual(have.vxlan, want.vxlan));
    if (recreate) ops.push({ op: 'delete', name: want.name });
    const fresh = have === undefined || recreate;
    if (fresh) ops.push(want.kind === 'vxlan' ? { op: 'add-vxlan', name: want.name, vxlan: want.vxlan! } : { op: 'add-ipip', name: want.name });
    const set: LinkOp & { op: 'set' } = { op: 'set', name: want.name };
    if (fresh || have.mtu !== want.mtu) set.mtu = want.mtu;
    if (want.mac !== undefined && (fresh || have.mac !== want.mac)) set.mac = want.mac;
    if (fresh || !have.up) set.up = true;
    if (set.mtu !== undefined || set.mac !== undefined || set.up !== undefined) ops.push(set);
    const haveAddrs = fresh ? [] : have.addresses;
    for (const a of haveAddrs) if (!want.addresses.includes(a)) ops.push({ op: 'addr-del', name: want.name, cidr: a });
    for (const a of want.addresses) if (!haveAddrs.includes(a)) ops.push({ op: 'addr-add', name: want.name, cidr: a });
    return ops;
  }

  /** Creates and updates devices (before neighbours and routes that use them). */
  async applyUpdates(): Promise<ReconcileResult & { changed: boolean }> {
    const groups: { name: string; ops: LinkOp[]; want: LinkState }[] = [];
    for (const [name, want] of this.tracker.pendingUpdates()) {
      if (want.kind === 'ipip' && this.ipip.available === false && !this.ipip.probeDue) continue;
      groups.push({ name, want, ops: this.opsFor(want, this.tracker.getActual(name)) });
    }
    this.ipip.probeDue = false;
    return this.run(groups, (g) => this.tracker.setActual(g.name, g.want));
  }

  /** Removes devices (and tunl0's addresses) nobody wants any more: after routes are gone. */
  async applyDeletions(): Promise<ReconcileResult & { changed: boolean }> {
    const groups: { name: string; ops: LinkOp[]; want: LinkState }[] = [];
    for (const [name, have] of this.tracker.pendingDeletions()) {
      // tunl0 is the ipip module's fallback device and cannot be deleted: strip it instead.
      const ops: LinkOp[] = have.kind === 'ipip' ? have.addresses.map((cidr) => ({ op: 'addr-del' as const, name, cidr })) : [{ op: 'delete', name }];
      groups.push({ name, ops, want: have });
    }
    return this.run(groups, (g) => this.tracker.deleteActual(g.name));
  }

  private async run(groups: { name: string; ops: LinkOp[]; want: LinkState }[], onOk: (g: { name: string; want: LinkState }) => void): Promise<ReconcileResult & { changed: boolean }> {
    const flat = groups.flatMap((g) => g.ops);
    if (flat.length === 0) {
      for (const g of groups) onOk(g);
      return { writes: 0, failures: 0, waiting: 0, errors: [], changed: false };
    }
    const results = await this.netlink.apply(flat);
    let i = 0;
    let failures = 0;
    let writes = 0;
    const errors: string[] = [];
    for (const g of groups) {
      const res = results.slice(i, i + g.ops.length);
      i += g.ops.length;
      const firstBad = res.findIndex((r) => !r.ok);
      writes += res.filter((r) => r.ok).length;
      if (firstBad < 0) {
        onOk(g);
        if (g.want.kind === 'ipip' && this.ipip.available !== true && g.ops.some((o) => o.op === 'add-ipip')) this.setIpip(true);
        continue;
      }
      const op = g.ops[firstBad]!;
      const err = res[firstBad]!.error ?? 'failed';
      if (op.op === 'add-ipip' && IPIP_UNSUPPORTED.test(err)) {
        this.setIpip(false, err);
        continue;
      }
      failures++;
      errors.push(`${op.op} ${g.name}: ${err}`);
    }
    if (failures > 0) this.log.warn({ errors }, 'tunnel device changes failed; will retry');
    return { writes, failures, waiting: 0, errors, changed: writes > 0 };
  }

  private setIpip(available: boolean, reason?: string): void {
    if (this.ipip.available === available) return;
    this.ipip.available = available;
    this.ipip.reason = reason;
    if (available) this.log.info('IPIP device tunl0 is available');
    else
      this.log.warn(
        { reason },
        'IPIP unavailable: this kernel cannot create an ipip device (no ipip module); IPIP routes will not be programmed. Load the ipip module or use VXLAN pools. Everything else keeps working.',
      );
    this.onIpip(available, reason);
  }
}

/**
 * LinkNetlink over iproute2: `ip -d -j addr show` reads every link with its linkinfo and
 * addresses in one call; changes go through one `ip -force -batch -`.
 */
import { runBatch } from './batch.js';
import { canonicalCidr } from './addr.js';
import { ipArgv, runChecked, type CommandRunner, type NetnsTarget } from './exec.js';
import type { KernelLink, LinkNetlink, LinkOp, OpResult } from './netlink.js';

interface AddrJson {
  family: string;
  local: string;
  prefixlen: number;
  scope?: string;
}

interface LinkJson {
  ifindex: number;
  ifname: string;
  flags?: string[];
  mtu: number;
  address?: string;
  link_type?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
  addr_info?: AddrJson[];
}

export function parseLinkJson(l: LinkJson): KernelLink {
  const flags = l.flags ?? [];
  const link: KernelLink = {
    name: l.ifname,
    index: l.ifindex,
    adminUp: flags.includes('UP'),
    lowerUp: flags.includes('LOWER_UP'),
    mtu: l.mtu,
    addresses: [],
  };
  if (l.link_type === 'ether' && l.address) link.mac = l.address.toLowerCase();
  const kind = l.linkinfo?.info_kind;
  if (kind !== undefined) link.kind = kind;
  const d = l.linkinfo?.info_data;
  if (kind === 'vxlan' && d) {
    link.vxlan = { vni: Number(d.id), port: Number(d.port), learning: d.learning === true };
    if (typeof d.link === 'string') link.vxlan.parent = d.link;
    if (typeof d.local === 'string') link.vxlan.local = d.local;
  }
  for (const a of l.addr_info ?? []) {
    if (a.family === 'inet6' && a.scope === 'link') continue;
    if (a.family !== 'inet' && a.family !== 'inet6') continue;
    link.addresses.push(canonicalCidr(`${a.local}/${a.prefixlen}`));
  }
  return link;
}

export function linkOpLine(o: LinkOp): string {
  switch (o.op) {
    case 'add-vxlan': {
      const v = o.vxlan;
      let s = `link add name ${o.name} type vxlan id ${v.vni} dstport ${v.port}`;
      if (v.local !== undefined) s += ` local ${v.local}`;
      if (v.parent !== undefined) s += ` dev ${v.parent}`;
      s += v.learning ? ' learning' : ' nolearning';
      return s;
    }
    case 'add-ipip':
      return `link add name ${o.name} type ipip`;
    case 'delete':
      return `link del ${o.name}`;
    case 'set': {
      let s = `link set dev ${o.name}`;
      if (o.mtu !== undefined) s += ` mtu ${o.mtu}`;
      if (o.mac !== undefined) s += ` address ${o.mac}`;
      if (o.up !== undefined) s += o.up ? ' up' : ' down';
      return s;
    }
    case 'addr-add':
      return `addr replace ${o.cidr} dev ${o.name}`;
    case 'addr-del':
      return `addr del ${o.cidr} dev ${o.name}`;
  }
}

export class Iproute2Links implements LinkNetlink {
  constructor(
    private readonly runner: CommandRunner,
    private readonly target: NetnsTarget = {},
    private readonly timeoutMs?: number,
  ) {}

  async list(): Promise<KernelLink[]> {
    const out = await runChecked(this.runner, ipArgv(this.target, '-d', '-j', 'addr', 'show'), { timeoutMs: this.timeoutMs });
    return (JSON.parse(out || '[]') as LinkJson[]).map(parseLinkJson);
  }

  apply(ops: readonly LinkOp[]): Promise<OpResult[]> {
    return runBatch(this.runner, ipArgv(this.target), ops.map(linkOpLine), { timeoutMs: this.timeoutMs });
  }
}

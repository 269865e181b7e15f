/**
 * RouteNetlink over iproute2: `ip -N -j -4|-6 route show table all` to read, `ip -force -batch -`
 * to write. `-N` makes protocol, scope, type and table numeric so nothing depends on the local
 * /etc/iproute2 name files. iproute2 leaves out fields at their defaults (protocol boot, scope
 * universe, metric 0, type unicast, table main), which `parseRouteJson` restores.
 */
import { runBatch } from './batch.js';
import { canonicalCidr } from './addr.js';
import { ipArgv, runChecked, type CommandRunner, type NetnsTarget } from './exec.js';
import type { KernelRoute, OpResult, RouteApplyOptions, RouteNetlink, RouteOp, RouteType } from './netlink.js';

export const RT_TABLE_MAIN = 254;
export const RT_TABLE_LOCAL = 255;
export const RTPROT_BOOT = 3;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;

/** rtm_type numbers (linux/rtnetlink.h) for the types we program. */
const TYPE_BY_NUMBER: Record<string, RouteType> = { '1': 'unicast', '6': 'blackhole', '7': 'unreachable', '8': 'prohibit' };

interface RouteJson {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  table?: string;
  protocol?: string;
  scope?: string;
  metric?: number;
  prefsrc?: string;
  flags?: string[];
  nexthops?: unknown[];
}

/**
 * iproute2 prints destinations canonically already (inet_ntop), leaving out the length of host
 * routes and spelling 0/0 `default`; restoring those two is all that is needed, and it is the
 * hot path of a 100,000-route read-back.
 */
function kernelDst(dst: string, family: 4 | 6): string {
  if (dst.includes('/')) return dst;
  if (dst === 'default') return canonicalCidr(dst, family);
  return family === 4 ? `${dst}/32` : `${dst}/128`;
}

export function parseRouteJson(r: RouteJson, family: 4 | 6): KernelRoute {
  // Every field present (undefined where absent): one hidden class for 100,000 parsed routes.
  return {
    table: r.table === undefined ? RT_TABLE_MAIN : Number(r.table),
    dst: kernelDst(r.dst, family),
    type: r.type === undefined ? 'unicast' : (TYPE_BY_NUMBER[r.type] ?? 'other'),
    dev: r.dev,
    gateway: r.gateway,
    onlink: r.flags?.includes('onlink') ?? false,
    scope: r.scope === undefined ? RT_SCOPE_UNIVERSE : Number(r.scope),
    protocol: r.protocol === undefined ? RTPROT_BOOT : Number(r.protocol),
    metric: r.metric ?? 0,
    src: r.prefsrc,
    unsupported: r.nexthops !== undefined,
  };
}

/** The `ip -batch` line that makes the kernel hold exactly this route. */
export function routeReplaceLine(r: KernelRoute): string {
  let s = 'route replace ';
  if (r.type !== 'unicast') s += `${r.type} `;
  s += r.dst;
  if (r.gateway !== undefined) s += ` via ${r.gateway}`;
  if (r.dev !== undefined) s += ` dev ${r.dev}`;
  if (r.onlink) s += ' onlink';
  if (r.type === 'unicast') s += ` scope ${r.scope}`;
  s += ` proto ${r.protocol} metric ${r.metric}`;
  if (r.src !== undefined) s += ` src ${r.src}`;
  s += ` table ${r.table}`;
  return s;
}

/** The line that deletes exactly this route: protocol and metric narrow it to the one we own. */
export function routeDeleteLine(r: KernelRoute): string {
  const type = r.type === 'unicast' || r.type === 'other' ? '' : `${r.type} `;
  return `route del ${type}${r.dst} proto ${r.protocol} metric ${r.metric} table ${r.table}`;
}

export function routeLine(o: RouteOp): string {
  return o.op === 'replace' ? routeReplaceLine(o.route) : routeDeleteLine(o.route);
}

/** A delete that finds nothing already has the effect we wanted. */
export function isRouteGone(error: string): boolean {
  return /No such process|No such file or directory/.test(error);
}

export class Iproute2Routes implements RouteNetlink {
  constructor(
    private readonly runner: CommandRunner,
    private readonly target: NetnsTarget = {},
    private readonly timeoutMs?: number,
  ) {}

  async dump(family: 4 | 6): Promise<KernelRoute[]> {
    const out = await runChecked(this.runner, ipArgv(this.target, '-N', '-j', `-${family}`, 'route', 'show', 'table', 'all'), { timeoutMs: this.timeoutMs });
    const rows = JSON.parse(out || '[]') as RouteJson[];
    const routes: KernelRoute[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) routes[i] = parseRouteJson(rows[i]!, family);
    return routes;
  }

  async apply(ops: readonly RouteOp[], opts: RouteApplyOptions = {}): Promise<OpResult[]> {
    // Lines are generated chunk by chunk while `ip` already works on the first ones; with
    // `more`, the ops themselves are too (so `length` is read live).
    const lines = {
      get length(): number {
        return ops.length;
      },
      line: (i: number): string => routeLine(ops[i]!),
    };
    const results = await runBatch(this.runner, ipArgv(this.target), lines, { timeoutMs: this.timeoutMs, onSent: opts.onSent, more: opts.more });
    // Rewritten in place: a fresh array of 100,000 results is garbage the apply does not need.
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      if (!r.ok && ops[i]!.op === 'delete' && isRouteGone(r.error ?? '')) results[i] = { ok: true };
    }
    return results;
  }
}

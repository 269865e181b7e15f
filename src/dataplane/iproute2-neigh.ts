/**
 * NeighNetlink over iproute2: `ip -j neigh show dev D nud permanent` and `bridge -j fdb show dev D`
 * to read; `ip -force -batch -` and `bridge -force -batch -` to write.
 */
import { runBatch } from './batch.js';
import { canonicalAddr, canonicalMac } from './addr.js';
import { bridgeArgv, ipArgv, runChecked, type CommandRunner, type NetnsTarget } from './exec.js';
import type { FdbOp, KernelFdb, KernelNeigh, NeighNetlink, NeighOp, OpResult } from './netlink.js';

interface NeighJson {
  dst: string;
  lladdr?: string;
  state?: string[];
}
interface FdbJson {
  mac: string;
  dst?: string;
  state?: string;
  flags?: string[];
}

export function neighOpLine(o: NeighOp): string {
  const n = o.neigh;
  return o.op === 'replace' ? `neigh replace ${n.ip} lladdr ${n.mac} dev ${n.dev} nud permanent` : `neigh del ${n.ip} dev ${n.dev}`;
}

export function fdbOpLine(o: FdbOp): string {
  const f = o.fdb;
  const dst = f.dst === undefined ? '' : ` dst ${f.dst}`;
  return o.op === 'replace' ? `fdb replace ${f.mac} dev ${f.dev}${dst} self permanent` : `fdb del ${f.mac} dev ${f.dev}${dst} self`;
}

function isGone(error: string): boolean {
  return /No such file or directory|No such process|Cannot find device/.test(error);
}

export class Iproute2Neigh implements NeighNetlink {
  constructor(
    private readonly runner: CommandRunner,
    private readonly target: NetnsTarget = {},
    private readonly timeoutMs?: number,
  ) {}

  async dumpNeigh(dev: string): Promise<KernelNeigh[]> {
    const out = await runChecked(this.runner, ipArgv(this.target, '-j', 'neigh', 'show', 'dev', dev), { timeoutMs: this.timeoutMs });
    const rows = JSON.parse(out || '[]') as NeighJson[];
    return rows
      .filter((r) => r.lladdr !== undefined)
      .map((r) => ({ dev, ip: canonicalAddr(r.dst), mac: canonicalMac(r.lladdr!), permanent: r.state?.includes('PERMANENT') ?? false }));
  }

  async dumpFdb(dev: string): Promise<KernelFdb[]> {
    const out = await runChecked(this.runner, bridgeArgv(this.target, '-j', 'fdb', 'show', 'dev', dev), { timeoutMs: this.timeoutMs });
    const rows = JSON.parse(out || '[]') as FdbJson[];
    return rows.map((r) => {
      const f: KernelFdb = { dev, mac: canonicalMac(r.mac), permanent: r.state === 'permanent' };
      if (r.dst !== undefined) f.dst = canonicalAddr(r.dst);
      return f;
    });
  }

  async applyNeigh(ops: readonly NeighOp[]): Promise<OpResult[]> {
    const res = await runBatch(this.runner, ipArgv(this.target), ops.map(neighOpLine), { timeoutMs: this.timeoutMs });
    return res.map((r, i) => (!r.ok && ops[i]!.op === 'delete' && isGone(r.error ?? '') ? { ok: true } : r));
  }

  async applyFdb(ops: readonly FdbOp[]): Promise<OpResult[]> {
    const res = await runBatch(this.runner, bridgeArgv(this.target), ops.map(fdbOpLine), { timeoutMs: this.timeoutMs });
    return res.map((r, i) => (!r.ok && ops[i]!.op === 'delete' && isGone(r.error ?? '') ? { ok: true } : r));
  }
}

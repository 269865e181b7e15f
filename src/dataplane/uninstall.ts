/**
 * Uninstall (`tortie agent cleanup`): removes what tortie (or Felix before it) owns in this
 * network namespace, recognised the way the running agent recognises it, and nothing else:
 *
 *   1. iptables: every `cali-` chain and every `cali:`-hashed rule in the built-in chains, in all
 *      four tables of both IP versions, on BOTH backends (an earlier Felix may have used the other);
 *   2. IP sets: every `cali40` / `cali60` set and the `cali4t` / `cali6t` temporaries, after the
 *      rules that referenced them are gone;
 *   3. routes with Felix's protocol (80) or tortie's BGP protocol (81), both families;
 *   4. the tunnel devices `vxlan.calico` and `vxlan-v6.calico`.
 *
 * Left alone, on purpose: workload routes and `cali*` interfaces (they belong to the pods, and
 * the CNI plugin removes them with each pod), `tunl0` (the kernel's ipip fallback device cannot be
 * deleted while the module is loaded), sysctls (their old values are not known).
 */
import { ipArgv, type CommandRunner } from './exec.js';
import { binariesFor } from './iptables/backend.js';
import { removeAllOwned } from './iptables/cleanup.js';
import { IpSets } from './ipsets/ipsets.js';
import type { RouteProtocols } from './types.js';
import { silentLogger, type Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';

export interface UninstallOptions {
  runner: CommandRunner;
  netns?: string;
  protocols: RouteProtocols;
  log?: Logger;
}

export interface UninstallReport {
  ok: boolean;
  steps: { step: string; ok: boolean; detail: string }[];
}

const TUNNEL_DEVICES = ['vxlan.calico', 'vxlan-v6.calico'];

export async function uninstall(o: UninstallOptions): Promise<UninstallReport> {
  const log = o.log ?? silentLogger;
  const steps: UninstallReport['steps'] = [];
  const target = o.netns ? { netns: o.netns } : {};
  const step = async (name: string, fn: () => Promise<string>): Promise<void> => {
    try {
      steps.push({ step: name, ok: true, detail: await fn() });
    } catch (e) {
      steps.push({ step: name, ok: false, detail: errorMessage(e) });
    }
  };
  for (const backend of ['nft', 'legacy'] as const) {
    await step(`iptables (${backend})`, async () => {
      const r = await removeAllOwned({ binaries: binariesFor(backend), runner: o.runner, ...target, log });
      if (r.failures > 0) throw new Error(r.errors.join('; '));
      return r.writes > 0 ? `removed (${r.writes} changes)` : 'nothing of ours';
    });
  }
  for (const v of [4, 6] as const) {
    await step(`ip sets (IPv${v})`, async () => {
      // A reconciler that wants nothing: its read-back finds our sets, its deletions destroy them.
      const sets = new IpSets({ runner: o.runner, ipVersion: v, ...target, log });
      await sets.resync();
      const r = await sets.applyDeletions();
      if (r.failures > 0 || r.waiting > 0) throw new Error(r.errors.join('; ') || `${r.waiting} sets still in use by rules that are not ours`);
      return r.writes > 0 ? `destroyed ${r.writes}` : 'nothing of ours';
    });
  }
  for (const proto of [o.protocols.felix, o.protocols.bgp]) {
    for (const fam of ['-4', '-6']) {
      await step(`routes proto ${proto} (${fam === '-4' ? 'IPv4' : 'IPv6'})`, async () => {
        const argv = ipArgv(target, fam, 'route', 'flush', 'proto', String(proto));
        const r = await o.runner.run(argv, { timeoutMs: 60_000 });
        if (r.code !== 0 && !/Nothing to flush/.test(r.stderr)) throw new Error(`${argv.join(' ')}: ${r.stderr.trim()}`);
        return 'flushed';
      });
    }
  }
  for (const dev of TUNNEL_DEVICES) {
    await step(`device ${dev}`, async () => {
      const argv = ipArgv(target, 'link', 'del', dev);
      const r = await o.runner.run(argv, { timeoutMs: 10_000 });
      if (r.code === 0) return 'deleted';
      if (/Cannot find device|does not exist/.test(r.stderr)) return 'not present';
      throw new Error(`${argv.join(' ')}: ${r.stderr.trim()}`);
    });
  }
  return { ok: steps.every((s) => s.ok), steps };
}

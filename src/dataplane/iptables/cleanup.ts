/**
 * Uninstall (`tortie agent cleanup`): take every trace of ours out of iptables — every `cali-*`
 * chain, and every rule with a `cali:` hash comment in any other chain — in all four tables of
 * both IP versions, and nothing else. It is an IptablesTable that wants nothing: its read-back
 * finds our rules, its update pass deletes our hooks (by value) and its deletion pass flushes
 * and deletes our chains, with the same ownership rules as the running agent.
 *
 * Only tables that exist are visited (a full `<save>` lists them): naming a legacy table to
 * iptables-save makes the kernel create it, and an uninstall should not leave new empty tables.
 */
import type { TableName } from '../rules/chain.js';
import { inNetnsArgv, type CommandRunner } from '../exec.js';
import type { ReconcileResult } from '../route-reconciler.js';
import { silentLogger, type Logger } from '../../util/log.js';
import type { IptablesBinaries } from './backend.js';
import type { IptablesMetrics } from './metrics.js';
import { IptablesTable } from './table.js';

export interface CleanupOptions {
  binaries: IptablesBinaries;
  runner: CommandRunner;
  netns?: string;
  ipVersions?: readonly (4 | 6)[];
  lockFile?: string;
  lockTimeoutMs?: number;
  timeoutMs?: number;
  log?: Logger;
  metrics?: IptablesMetrics;
}

/** raw first, filter last: the order the tables see a packet; any order would do. */
const TABLES: readonly TableName[] = ['raw', 'mangle', 'nat', 'filter'];

/** Table names present in a full iptables-save (`*filter` lines). */
export function tablesInSave(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) if (line.startsWith('*')) out.add(line.slice(1).trim());
  return out;
}

export async function removeAllOwned(o: CleanupOptions): Promise<ReconcileResult> {
  const log = (o.log ?? silentLogger).child({ component: 'iptables-cleanup' });
  const total: ReconcileResult = { writes: 0, failures: 0, waiting: 0, errors: [] };
  const add = (r: ReconcileResult): void => {
    total.writes += r.writes;
    total.failures += r.failures;
    total.errors.push(...r.errors);
  };
  for (const v of o.ipVersions ?? [4, 6]) {
    const argv = inNetnsArgv({ netns: o.netns }, [o.binaries.save(v)]);
    let present: Set<string>;
    try {
      const r = await o.runner.run(argv, { timeoutMs: o.timeoutMs });
      if (r.code !== 0) throw new Error(`exit code ${r.code}: ${r.stderr.trim()}`);
      present = tablesInSave(r.stdout);
    } catch (e) {
      add({ writes: 0, failures: 1, waiting: 0, errors: [`${argv.join(' ')}: ${(e as Error).message}`] });
      continue;
    }
    for (const table of TABLES) {
      if (!present.has(table)) continue;
      const t = new IptablesTable({ table, ipVersion: v, binaries: o.binaries, runner: o.runner, netns: o.netns, lockFile: o.lockFile, lockTimeoutMs: o.lockTimeoutMs, timeoutMs: o.timeoutMs, log, metrics: o.metrics });
      try {
        await t.resync();
      } catch (e) {
        add({ writes: 0, failures: 1, waiting: 0, errors: [`${o.binaries.save(v)} -t ${table}: ${(e as Error).message}`] });
        continue;
      }
      add(await t.applyUpdates());
      add(await t.applyDeletions());
    }
  }
  if (total.failures > 0) log.warn({ errors: total.errors }, 'some iptables state of ours could not be removed; run the cleanup again');
  else log.info({ writes: total.writes, backend: o.binaries.backend }, 'removed our iptables chains and rules');
  return total;
}

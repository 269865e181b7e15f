/**
 * The plain-tools side of the policy dataplane benchmark: the state a list of policy messages
 * describes, replayed by hand (not through PolicyDataplane), written with nothing but
 * `ipset restore` and `iptables-restore --noflush`; and the read-back that shows two namespaces
 * hold the same sets and rules. What tortie is measured against.
 */
import { performance } from 'node:perf_hooks';
import { runIn } from '../../src/lab/netns.js';
import type { IpSetType, PolicyMessage } from '../../src/proto/policy.js';
import { workloadEndpointKey } from '../../src/proto/policy.js';
import { DesiredChains, TABLES } from '../../src/dataplane/policy/desired-chains.js';
import { ipSetName, programmedChains, restoreTableText, type RenderConfig, type TableName } from '../../src/dataplane/rules/index.js';
import { childCpuMs } from './bench-net.js';

export type Backend = 'nft' | 'legacy';

/** Felix's MaxIpsetSize default, the `maxelem` tortie creates every set with. */
const MAX_IPSET_SIZE = 1_048_576;
/** Calico's set types as ipset names them. */
const KERNEL_TYPE: Record<IpSetType, string> = { ip: 'hash:ip', net: 'hash:net', 'ip-port': 'hash:ip,port' };
/** One restore of 200,000 members or 36,000 rules takes seconds; a loaded 2-core box needs room. */
export const PLAIN_TIMEOUT_MS = 300_000;

/** Restore input for the final state of some messages, and what it holds. */
export interface PlainInput {
  ipset: string;
  tables: [TableName, string][];
  sets: number;
  members: number;
  chains: number;
  rules: number;
}

/** An IPv4 member: the address part has no colon (`ip-port` members are `addr,proto:port`). */
function isV4Member(m: string): boolean {
  return !m.split(',')[0]!.includes(':');
}

/**
 * Each set's final members (create + add lines, IPv4 only), and the chains of a DesiredChains of
 * its own restricted to those Felix programs (programmedChains), one restore text per table.
 */
export function plainInput(msgs: readonly PolicyMessage[], render: RenderConfig): PlainInput {
  const sets = new Map<string, { type: IpSetType; members: Set<string> }>();
  const chains = new DesiredChains(4, render);
  for (const m of msgs) {
    switch (m.type) {
      case 'ipset-update':
        sets.set(m.id, { type: m.setType, members: new Set(m.members) });
        break;
      case 'ipset-delta': {
        const s = sets.get(m.id);
        if (!s) throw new Error(`ipset-delta for unknown set ${m.id}`);
        for (const r of m.removed) s.members.delete(r);
        for (const a of m.added) s.members.add(a);
        break;
      }
      case 'ipset-remove':
        sets.delete(m.id);
        break;
      case 'policy-update':
        chains.setPolicy(m.id, m.policy);
        break;
      case 'policy-remove':
        chains.removePolicy(m.id);
        break;
      case 'profile-update':
        chains.setProfile(m.id, m.profile);
        break;
      case 'profile-remove':
        chains.removeProfile(m.id);
        break;
      case 'workload-endpoint-update':
        chains.setWorkload(workloadEndpointKey(m.id), m.endpoint);
        break;
      case 'workload-endpoint-remove':
        chains.removeWorkload(workloadEndpointKey(m.id));
        break;
      case 'host-endpoint-update':
        chains.setHost(m.id, m.endpoint);
        break;
      case 'host-endpoint-remove':
        chains.removeHost(m.id);
        break;
    }
  }
  const lines: string[] = [];
  let members = 0;
  for (const [id, s] of sets) {
    const name = ipSetName(id, 4);
    lines.push(`create ${name} ${KERNEL_TYPE[s.type]} family inet maxelem ${MAX_IPSET_SIZE}`);
    for (const m of s.members) {
      if (!isV4Member(m)) continue;
      lines.push(`add ${name} ${m}`);
      members++;
    }
  }
  const hooks = chains.flush().hooks ?? [];
  const all = chains.all();
  const tables: [TableName, string][] = [];
  let chainCount = 0;
  let rules = 0;
  for (const t of TABLES) {
    const programmed = programmedChains(all.get(t) ?? [], hooks);
    if (programmed.length === 0 && !hooks.some((h) => h.table === t)) continue;
    chainCount += programmed.length;
    for (const c of programmed) rules += c.rules.length;
    tables.push([t, restoreTableText(t, programmed, hooks, render.chainInsertMode ?? 'insert')]);
  }
  return { ipset: lines.join('\n') + '\n', tables, sets: sets.size, members, chains: chainCount, rules };
}

/** A private xtables lock (legacy only) so that no other iptables user on the host makes us wait. */
export function lockEnv(lockFile: string): NodeJS.ProcessEnv {
  return { ...process.env, XTABLES_LOCKFILE: lockFile };
}

/** `ipset restore` of every set, then one `iptables-restore --noflush` per table. */
export async function plainRestore(ns: string, backend: Backend, input: PlainInput, lockFile: string): Promise<{ ms: number; cpuMs: number; ipsetMs: number }> {
  const env = lockEnv(lockFile);
  const c0 = childCpuMs();
  const t0 = performance.now();
  await runIn(ns, ['ipset', 'restore'], { input: input.ipset, timeoutMs: PLAIN_TIMEOUT_MS });
  const ipsetMs = performance.now() - t0;
  for (const [, text] of input.tables) await runIn(ns, [`iptables-${backend}-restore`, '--noflush'], { input: text, env, timeoutMs: PLAIN_TIMEOUT_MS });
  return { ms: performance.now() - t0, cpuMs: childCpuMs() - c0, ipsetMs };
}

/** What a namespace holds: every rule line (with its table), chain count, set members. */
export interface KernelPicture {
  rules: string[];
  chains: number;
  members: string[];
  sets: number;
}

export async function kernelPicture(ns: string, backend: Backend): Promise<KernelPicture> {
  const save = (await runIn(ns, [`iptables-${backend}-save`], { timeoutMs: PLAIN_TIMEOUT_MS })).stdout.split('\n');
  const ipsets = (await runIn(ns, ['ipset', 'save'], { timeoutMs: PLAIN_TIMEOUT_MS })).stdout.split('\n');
  let table = '';
  const rules: string[] = [];
  let chains = 0;
  for (const l of save) {
    if (l.startsWith('*')) table = l;
    else if (l.startsWith(':cali')) chains++;
    else if (l.startsWith('-A')) rules.push(`${table} ${l}`);
  }
  return { rules, chains, members: ipsets.filter((l) => l.startsWith('add ')), sets: ipsets.filter((l) => l.startsWith('create ')).length };
}

/** How many of a's lines b lacks. */
function missingFrom(a: readonly string[], b: readonly string[]): number {
  const s = new Set(b);
  return a.filter((x) => !s.has(x)).length;
}

/** Each chain's rules in order, keyed by table and chain (chains may be listed in any order). */
function byChain(rules: readonly string[]): Map<string, string> {
  const out = new Map<string, string[]>();
  for (const r of rules) {
    // `*filter -A cali-fw-x ...`: table and chain are the first and third words.
    const [table, , chain] = r.split(' ', 3);
    const key = `${table} ${chain}`;
    let l = out.get(key);
    if (!l) out.set(key, (l = []));
    l.push(r);
  }
  return new Map([...out].map(([k, v]) => [k, v.join('\n')]));
}

/** Same members, same chains, and every chain's rules in the same order. */
export function comparePictures(plain: KernelPicture, ours: KernelPicture): { text: string; identical: boolean } {
  const counts = [
    `${plain.sets} / ${ours.sets} sets`,
    `${plain.members.length} / ${ours.members.length} members`,
    `${plain.chains} / ${ours.chains} chains`,
    `${plain.rules.length} / ${ours.rules.length} rules`,
  ];
  const diff = [
    ['members', missingFrom(plain.members, ours.members), missingFrom(ours.members, plain.members)],
    ['rules', missingFrom(plain.rules, ours.rules), missingFrom(ours.rules, plain.rules)],
  ] as const;
  const a = byChain(plain.rules);
  const b = byChain(ours.rules);
  const sameOrder = a.size === b.size && [...a].every(([chain, rules]) => b.get(chain) === rules);
  const identical = diff.every(([, a, b]) => a === 0 && b === 0) && plain.sets === ours.sets && plain.chains === ours.chains;
  const detail = diff.filter(([, a, b]) => a || b).map(([w, a, b]) => `${w}: ${a} only in plain, ${b} only in tortie`);
  const verdict = identical ? (sameOrder ? 'identical' : "same lines, some chain's rules in another order") : `DIFFER (${detail.join('; ') || 'chain or set count'})`;
  return { text: `plain / tortie: ${counts.join(', ')}: ${verdict}`, identical: identical && sameOrder };
}

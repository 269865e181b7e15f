/**
 * Which iptables to run: legacy (the x_tables kernel API) or nft (iptables syntax over
 * nf_tables). The two keep separate rule sets in the kernel; a packet walks both, but rules
 * written through one are invisible to the other's save and restore, so tortie must use the
 * one kube-proxy and the host already use, and never mix them (Felix FELIX_IPTABLESBACKEND).
 *
 * `auto` follows the Kubernetes iptables-wrapper's decision, in its order:
 *   1. kubelet's marker chains (`KUBE-IPTABLES-HINT`, `KUBE-KUBELET-CANARY`, created in the mangle
 *      table since Kubernetes 1.17) in `ip(6)tables-nft-save -t mangle` → nft;
 *   2. the same chains in the full `ip(6)tables-legacy-save` → legacy (full save, not `-t mangle`:
 *      naming a legacy table makes the kernel create it);
 *   3. otherwise count rule lines (`-...`) of both saves, both families: more legacy rules than
 *      nft rules → legacy, else nft. A host with no rules at all gets nft.
 * Felix's DetectBackend does the same but picks legacy on a tie (and so on an empty host); tortie
 * takes the wrapper's tie rule, nft being the distributions' default since iptables 1.8.
 */
import { inNetnsArgv, type CommandRunner } from '../exec.js';

export type IptablesBackendMode = 'auto' | 'legacy' | 'nft';

export interface IptablesBinaries {
  backend: 'legacy' | 'nft';
  save(v: 4 | 6): string;
  restore(v: 4 | 6): string;
  iptables(v: 4 | 6): string;
}

/** The binaries of one backend, by their variant names (`ip6tables-nft-restore`, ...). */
export function binariesFor(backend: 'legacy' | 'nft'): IptablesBinaries {
  const base = (v: 4 | 6): string => `${v === 6 ? 'ip6tables' : 'iptables'}-${backend}`;
  return {
    backend,
    save: (v) => `${base(v)}-save`,
    restore: (v) => `${base(v)}-restore`,
    iptables: (v) => base(v),
  };
}

/** Limit for one detection save; the wrapper gives iptables-nft-save 5 s. */
const DETECT_TIMEOUT_MS = 5_000;

const KUBELET_CHAINS = /^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY)[ \n]/m;

/** Rule lines of an iptables-save output (the wrapper's `grep '^-'`). */
export function countRuleLines(text: string): number {
  let n = 0;
  if (text.startsWith('-')) n++;
  for (let i = text.indexOf('\n-'); i >= 0; i = text.indexOf('\n-', i + 2)) n++;
  return n;
}

/** Runs a save for detection; a binary that is missing or fails counts as no output. */
async function saveOutput(runner: CommandRunner, netns: string | undefined, argv: string[]): Promise<string> {
  try {
    const r = await runner.run(inNetnsArgv({ netns }, argv), { timeoutMs: DETECT_TIMEOUT_MS });
    return r.code === 0 ? r.stdout : '';
  } catch {
    return '';
  }
}

export async function resolveBackend(mode: IptablesBackendMode, runner: CommandRunner, netns?: string): Promise<IptablesBinaries & { reason: string }> {
  if (mode === 'legacy' || mode === 'nft') return { ...binariesFor(mode), reason: `configured (IptablesBackend=${mode})` };
  const nft = binariesFor('nft');
  const legacy = binariesFor('legacy');
  const save = (b: IptablesBinaries, v: 4 | 6, ...args: string[]): Promise<string> => saveOutput(runner, netns, [b.save(v), ...args]);

  const [nftMangle4, nftMangle6] = await Promise.all([save(nft, 4, '-t', 'mangle'), save(nft, 6, '-t', 'mangle')]);
  if (KUBELET_CHAINS.test(nftMangle4) || KUBELET_CHAINS.test(nftMangle6)) {
    return { ...nft, reason: 'auto: kubelet chains (KUBE-IPTABLES-HINT / KUBE-KUBELET-CANARY) found by iptables-nft-save -t mangle' };
  }
  const [legacy4, legacy6] = await Promise.all([save(legacy, 4), save(legacy, 6)]);
  if (KUBELET_CHAINS.test(legacy4) || KUBELET_CHAINS.test(legacy6)) {
    return { ...legacy, reason: 'auto: kubelet chains (KUBE-IPTABLES-HINT / KUBE-KUBELET-CANARY) found by iptables-legacy-save' };
  }
  const [nft4, nft6] = await Promise.all([save(nft, 4), save(nft, 6)]);
  const legacyRules = countRuleLines(legacy4) + countRuleLines(legacy6);
  const nftRules = countRuleLines(nft4) + countRuleLines(nft6);
  if (legacyRules > nftRules) return { ...legacy, reason: `auto: ${legacyRules} legacy rules vs ${nftRules} nft rules` };
  return { ...nft, reason: nftRules === 0 && legacyRules === 0 ? 'auto: no iptables rules on the host; nft by default' : `auto: ${nftRules} nft rules vs ${legacyRules} legacy rules` };
}

/**
 * Dispatch chains: from an interface name to its endpoint chain (felix/rules/dispatch.go).
 *
 * Names are sorted and deduplicated. To keep the walk short with many endpoints, Felix splits by
 * the character after the names' common prefix: a bin with several names becomes a child chain
 * `<root>-<char>` reached by `--in-interface <prefix><char>+ --goto <child>` from the root (so a
 * packet leaves the root once its bin is found); a bin with a single name gets its rule in the
 * root directly. Child chains repeat the root's end rules. One level only.
 *
 * Workload dispatch ends in a deny ("Unknown interface"): traffic of an interface Felix has no
 * endpoint for goes nowhere. Host endpoint dispatch has no end rule (unknown interfaces are not
 * policed) unless there is an all-interfaces endpoint, whose chains then take the rest; traffic
 * to a local workload skips that default egress chain.
 */
import { rule, type Chain, type Rule } from './chain.js';
import type { ResolvedConfig } from './config.js';
import * as F from './fragments.js';
import type { EndpointMarkMapper } from './marks.js';
import { CHAIN, endpointChainName, PREFIX } from './names.js';

function commonPrefix(names: readonly string[]): string {
  if (names.length === 0) return '';
  let p = names[0]!;
  for (const n of names) {
    let i = 0;
    while (i < p.length && i < n.length && p[i] === n[i]) i++;
    p = p.slice(0, i);
  }
  return p;
}

interface PrefixTree {
  readonly common: string;
  /** Bins in sorted order: prefix and the names in it. */
  readonly bins: readonly { readonly prefix: string; readonly names: readonly string[] }[];
}

function divide(names: readonly string[]): PrefixTree {
  const sorted = [...new Set(names)].sort();
  for (const n of sorted) if (n === '') throw new Error('dispatch: empty interface name');
  const common = commonPrefix(sorted);
  const bins: { prefix: string; names: string[] }[] = [];
  for (const n of sorted) {
    const prefix = n.length > common.length ? n.slice(0, common.length + 1) : common;
    const last = bins[bins.length - 1];
    if (last && last.prefix === prefix) last.names.push(n);
    else bins.push({ prefix, names: [n] });
  }
  return { common, bins };
}

type IfaceMatch = (iface: string) => F.Args;

function buildDispatch(
  chainName: string,
  tree: PrefixTree,
  match: IfaceMatch,
  action: (name: string) => F.Args,
  endRules: readonly Rule[],
): { children: Chain[]; root: Chain; rootRules: Rule[] } {
  const children: Chain[] = [];
  const rootRules: Rule[] = [];
  for (const bin of tree.bins) {
    if (bin.names.length > 1) {
      const child = `${chainName}-${bin.prefix.slice(tree.common.length)}`;
      rootRules.push(rule(match(`${bin.prefix}+`), F.goTo(child)));
      children.push({ name: child, rules: [...bin.names.map((n) => rule(match(n), action(n))), ...endRules] });
    } else {
      const n = bin.names[0]!;
      rootRules.push(rule(match(n), action(n)));
    }
  }
  const withEnd = [...rootRules, ...endRules];
  return { children, root: { name: chainName, rules: withEnd }, rootRules };
}

function nameDispatch(
  names: readonly string[],
  fromPrefix: string | undefined,
  toPrefix: string | undefined,
  fromChain: string,
  toChain: string,
  fromEnd: readonly Rule[],
  toEnd: readonly Rule[],
): Chain[] {
  const tree = divide(names);
  const out: Chain[] = [];
  if (fromPrefix !== undefined) {
    const d = buildDispatch(fromChain, tree, F.inInterface, (n) => F.goTo(endpointChainName(fromPrefix, n)), fromEnd);
    out.push(...d.children, d.root);
  }
  if (toPrefix !== undefined) {
    const d = buildDispatch(toChain, tree, F.outInterface, (n) => F.goTo(endpointChainName(toPrefix, n)), toEnd);
    out.push(...d.children, d.root);
  }
  return out;
}

/** `cali-from-wl-dispatch[-x]` then `cali-to-wl-dispatch[-x]`, for the given interface names. */
export function renderWorkloadDispatchChains(ifaceNames: readonly string[], cfg: ResolvedConfig): Chain[] {
  const end = [rule([], cfg.deny.args, 'Unknown interface')];
  return nameDispatch(ifaceNames, PREFIX.fromWorkload, PREFIX.toWorkload, CHAIN.fromWorkloadDispatch, CHAIN.toWorkloadDispatch, end, end);
}

export type HostDispatchDirections = 'to+from' | 'from' | 'to';

/**
 * Host endpoint dispatch: `cali-from-host-endpoint` / `cali-to-host-endpoint` (and, with
 * applyOnForward, `cali-from-hep-forward` / `cali-to-hep-forward`). `defaultIface` is the
 * all-interfaces endpoint's name (names.ALL_INTERFACES) when there is one. Felix renders
 * `to+from` with applyOnForward in filter and without it in raw, `from` (preDNAT) and `to` (DNAT'd
 * host traffic) in mangle.
 */
export function renderHostDispatchChains(
  ifaceNames: readonly string[],
  cfg: ResolvedConfig,
  opts: { readonly defaultIface?: string; readonly applyOnForward?: boolean; readonly directions?: HostDispatchDirections } = {},
): Chain[] {
  const directions = opts.directions ?? 'to+from';
  const applyOnForward = opts.applyOnForward ?? false;
  let fromEnd: Rule[] = [];
  const toEnd: Rule[] = [];
  let fromFwdEnd: Rule[] = [];
  let toFwdEnd: Rule[] = [];
  if (opts.defaultIface) {
    const d = opts.defaultIface;
    fromEnd = [rule([], F.goTo(endpointChainName(PREFIX.fromHost, d)))];
    fromFwdEnd = [rule([], F.goTo(endpointChainName(PREFIX.fromHostForward, d)))];
    if (!applyOnForward) {
      for (const p of cfg.workloadIfacePrefixes) toEnd.push(rule(F.outInterface(`${p}+`), F.ret(), 'Skip egress WHEP policy for traffic to local workload'));
    }
    toEnd.push(rule([], F.goTo(endpointChainName(PREFIX.toHost, d))));
    toFwdEnd = [rule([], F.goTo(endpointChainName(PREFIX.toHostForward, d)))];
  }
  if (directions === 'from') return nameDispatch(ifaceNames, PREFIX.fromHost, undefined, CHAIN.fromHostEndpoint, '', fromEnd, toEnd);
  if (directions === 'to') return nameDispatch(ifaceNames, undefined, PREFIX.toHost, '', CHAIN.toHostEndpoint, fromEnd, toEnd);
  const normal = nameDispatch(ifaceNames, PREFIX.fromHost, PREFIX.toHost, CHAIN.fromHostEndpoint, CHAIN.toHostEndpoint, fromEnd, toEnd);
  if (!applyOnForward) return normal;
  return [
    ...normal,
    ...nameDispatch(ifaceNames, PREFIX.fromHostForward, PREFIX.toHostForward, CHAIN.fromHostEndpointForward, CHAIN.toHostEndpointForward, fromFwdEnd, toFwdEnd),
  ];
}

/**
 * kube-proxy IPVS: `cali-set-endpoint-mark[-x]` (incoming interface to its `cali-sm-` chain;
 * unknown workload interfaces denied; everything else gets the non-Calico mark) and
 * `cali-from-endpoint-mark` (endpoint mark back to the from-endpoint chain).
 */
export function renderEndpointMarkDispatchChains(
  workloadIfaces: readonly string[],
  hostIfaces: readonly string[],
  mapper: EndpointMarkMapper,
  cfg: ResolvedConfig,
): Chain[] {
  const chains: Chain[] = [];
  const rootSet: Rule[] = [];
  for (const names of [workloadIfaces, hostIfaces]) {
    if (names.length === 0) continue;
    const d = buildDispatch(CHAIN.setEndpointMark, divide(names), F.inInterface, (n) => F.goTo(endpointChainName(PREFIX.setEndpointMark, n)), []);
    chains.push(...d.children);
    rootSet.push(...d.rootRules);
  }
  for (const p of cfg.workloadIfacePrefixes) rootSet.push(rule(F.inInterface(`${p}+`), cfg.deny.args, 'Unknown endpoint'));
  rootSet.push(rule([], F.setMaskedMark(cfg.marks.nonCaliEndpoint, mapper.mask), 'Non-Cali endpoint mark'));

  const rootFrom: Rule[] = [];
  const fromPrefixes = [PREFIX.fromWorkload, PREFIX.fromHostForward];
  [workloadIfaces, hostIfaces].forEach((names, i) => {
    for (const n of [...new Set(names)].sort()) {
      let mark: number;
      try {
        mark = mapper.getEndpointMark(n);
      } catch {
        continue;
      }
      rootFrom.push(rule(F.markMatchesWithMask(mark, mapper.mask), F.goTo(endpointChainName(fromPrefixes[i]!, n))));
    }
  });
  rootFrom.push(rule([], cfg.deny.args, 'Unknown interface'));
  chains.push({ name: CHAIN.setEndpointMark, rules: rootSet }, { name: CHAIN.fromEndpointMark, rules: rootFrom });
  return chains;
}

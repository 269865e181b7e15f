/**
 * Kernel names and types of tortie's IP sets, and which kernel sets it owns.
 *
 * Main sets are Felix's: `cali40<id>` / `cali60<id>` (`ipSetName` in rules/names.ts, which the
 * iptables renderer uses too). The temporary copy a rewrite builds before swapping it in is
 * `cali4t<id>` / `cali6t<id>`, cut to the same 31 characters. Felix numbers its temporaries
 * (`cali4t0`, `cali4t1`, ...); naming them after the set instead means a crash leaves at most one
 * temporary per set, and both spellings share the prefix, so either is recognised as a leftover
 * and destroyed. Ownership is by prefix and nothing else: `cali40`/`cali4t` for the IPv4
 * reconciler, `cali60`/`cali6t` for IPv6. Any other set (kube-proxy's `KUBE-*`, an operator's
 * `cali-foo`) is never read past its name, never written, never destroyed.
 */
import { MAX_IPSET_NAME_LENGTH, ipSetName } from '../rules/names.js';
import type { IpSetType, IpVersion } from '../../proto/policy.js';

export { ipSetName };

/** Felix's MaxIpsetSize default: the `maxelem` every set is created with. */
export const DEFAULT_MAX_IPSET_SIZE = 1_048_576;

/** The `ipset create` type for each calc set type. */
export const KERNEL_TYPE: Readonly<Record<IpSetType, string>> = {
  ip: 'hash:ip',
  net: 'hash:net',
  'ip-port': 'hash:ip,port',
};

/** The `family` word of `ipset create`. */
export function familyName(v: IpVersion): 'inet' | 'inet6' {
  return v === 4 ? 'inet' : 'inet6';
}

/** The temporary set a rewrite fills and swaps with the main set. */
export function tempIpSetName(setId: string, ipVersion: IpVersion): string {
  const name = `cali${ipVersion}t${setId}`;
  return name.length > MAX_IPSET_NAME_LENGTH ? name.slice(0, MAX_IPSET_NAME_LENGTH) : name;
}

/** The name prefixes one family's reconciler owns: main, then temporary. */
export function ownedPrefixes(v: IpVersion): readonly [string, string] {
  return [`cali${v}0`, `cali${v}t`];
}

export function isTempIpSetName(name: string, v: IpVersion): boolean {
  return name.startsWith(`cali${v}t`);
}

/**
 * Set ids become part of `ipset restore` lines, so they are printable ASCII without spaces (a
 * space or newline would smuggle words or commands into the script; a multi-byte character would
 * break the kernel's 31-byte limit, which the truncation counts in characters). Calc ids are
 * hashes or Felix's fixed ids (`all-ipam-pools`), well inside this.
 */
const SET_ID = /^[\x21-\x7e]+$/;

export function checkSetId(id: string): void {
  if (!SET_ID.test(id)) throw new Error(`invalid IP set id ${JSON.stringify(id)}: want printable ASCII without spaces`);
}

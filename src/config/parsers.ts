/**
 * Value types of the configuration table: each turns the raw string an operator wrote (flag,
 * environment variable, later a config file or FelixConfiguration field) into a typed value, and
 * carries the one-line description of what it accepts, used both in error messages and in
 * docs/configuration.md so the two never disagree.
 *
 * Forms follow Felix's parameter types (felix/config/param_types.go) where Felix has one, so a
 * manifest written for calico-node means the same thing here.
 */
import { isIPv4, isIP } from 'node:net';
import { z } from 'zod';

export interface ValueType<T> {
  /** What values are accepted, for error messages and the docs ("an integer port 1-65535"). */
  readonly allowed: string;
  /** zod schema from the raw string to the value; its own messages are refinements of `allowed`. */
  readonly schema: z.ZodType<T, string>;
  /** How a value is shown in docs and in `agent.config` output. */
  format(v: T): string;
}

function valueType<T>(allowed: string, schema: z.ZodType<T, string>, format: (v: T) => string = String): ValueType<T> {
  return { allowed, schema, format };
}

const trimmed = z.string().trim();

/** Felix's boolean forms (BoolParam): true/1/yes/y/t and false/0/no/n/f, case-insensitive. */
export const boolType = valueType<boolean>(
  '`true` or `false` (also 1/0, yes/no, y/n, t/f; case-insensitive)',
  trimmed.toLowerCase().transform((s, ctx) => {
    if (['true', '1', 'yes', 'y', 't'].includes(s)) return true;
    if (['false', '0', 'no', 'n', 'f'].includes(s)) return false;
    ctx.addIssue({ code: 'custom', message: 'not a boolean' });
    return z.NEVER;
  }),
);

/** A decimal integer in [min, max]. Felix also takes hex/octal prefixes; nobody writes ports that way. */
export function intType(min: number, max: number, allowed = `an integer from ${min} to ${max}`): ValueType<number> {
  return valueType(
    allowed,
    trimmed.regex(/^-?\d+$/, 'not a decimal integer').transform(Number).pipe(z.number().int().min(min).max(max)),
  );
}

export const portType = intType(1, 65535, 'an integer TCP/UDP port from 1 to 65535');

/** 0 means "work it out from the uplink MTU" (Felix's default for VXLANMTU and IpInIpMtu). */
export const mtuType = valueType<number>(
  '0 (detect from the uplinks) or an integer MTU from 68 to 65535',
  trimmed
    .regex(/^\d+$/, 'not a decimal integer')
    .transform(Number)
    .refine((n) => n === 0 || (n >= 68 && n <= 65535), 'out of range'),
);

const GO_DURATION_UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/**
 * Seconds. Felix's environment form is a plain number of seconds ("90", "0.5"); FelixConfiguration
 * writes Go durations ("90s", "1m30s"). Both are accepted so the same value can come from either.
 */
export const secondsType = valueType<number>(
  'a number of seconds (`90`, `0.5`) or a duration (`90s`, `1m30s`, `500ms`), 0 or more',
  trimmed.transform((s, ctx) => {
    let secs: number | undefined;
    if (/^\d+(\.\d+)?$/.test(s)) {
      secs = Number(s);
    } else if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(s)) {
      secs = 0;
      for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
        secs += Number(m[1]) * GO_DURATION_UNIT_SECONDS[m[2]!]!;
      }
    }
    if (secs === undefined || !Number.isFinite(secs)) {
      ctx.addIssue({ code: 'custom', message: 'not a duration' });
      return z.NEVER;
    }
    return secs;
  }),
  (v) => `${v}s`,
);

/** One of a closed set, matched case-insensitively, normalised to the canonical spelling. */
export function enumType<const T extends string>(values: readonly T[], aliases: Record<string, T> = {}): ValueType<T> {
  const byLower = new Map<string, T>();
  for (const v of values) byLower.set(v.toLowerCase(), v);
  for (const [a, v] of Object.entries(aliases)) byLower.set(a.toLowerCase(), v);
  const aliasText = Object.keys(aliases).length ? ` (also ${Object.keys(aliases).map((a) => `\`${a}\``).join(', ')})` : '';
  return valueType<T>(
    `one of ${values.map((v) => `\`${v}\``).join(', ')}${aliasText}; case-insensitive`,
    trimmed.transform((s, ctx) => {
      const v = byLower.get(s.toLowerCase());
      if (v === undefined) {
        ctx.addIssue({ code: 'custom', message: 'not one of the allowed values' });
        return z.NEVER;
      }
      return v;
    }),
  );
}

/** Any non-empty string (paths, names checked elsewhere). */
export const stringType = valueType<string>('a non-empty string', trimmed.min(1));

/** A listening address: an IP literal, or a host name (Felix's host-address form). */
export const hostAddressType = valueType<string>(
  'an IP address (`127.0.0.1`, `0.0.0.0`, `::`) or a host name',
  trimmed.refine((s) => isIP(s) !== 0 || /^[a-zA-Z0-9._-]{1,64}$/.test(s), 'not an address'),
);

/** Kubernetes node names are DNS-1123 subdomains (lowercase, at most 253 characters). */
export const nodeNameType = valueType<string>(
  'a lowercase DNS name (RFC 1123 subdomain: a-z, 0-9, `-`, `.`; at most 253 characters)',
  trimmed.max(253).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'not a DNS-1123 subdomain'),
);

/** An absolute file path; existence is checked by the loader, which knows how to look. */
export const absPathType = valueType<string>('an absolute file path', trimmed.regex(/^\//, 'not an absolute path'));

/** sun_path is 108 bytes on Linux including the terminating NUL. */
const UNIX_SOCKET_PATH_MAX = 107;
export const socketPathType = valueType<string>(
  `an absolute path of at most ${UNIX_SOCKET_PATH_MAX} bytes (the Linux limit for a UNIX socket)`,
  trimmed.regex(/^\//, 'not an absolute path').refine((s) => Buffer.byteLength(s) <= UNIX_SOCKET_PATH_MAX, 'too long'),
);

/** Comma-separated http(s) URLs, as in calico-node's ETCD_ENDPOINTS. */
export const urlListType = valueType<string[]>(
  'a comma-separated list of `http://` or `https://` URLs (`https://10.0.0.1:2379,https://10.0.0.2:2379`)',
  trimmed.transform((s, ctx) => {
    const parts = s.split(',').map((p) => p.trim()).filter((p) => p !== '');
    if (parts.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'empty list' });
      return z.NEVER;
    }
    for (const p of parts) {
      let u: URL | undefined;
      try {
        u = new URL(p);
      } catch {
        u = undefined;
      }
      if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(p)} is not an http(s) URL` });
        return z.NEVER;
      }
    }
    return parts;
  }),
  (v) => v.join(','),
);

/** Comma-separated interface name prefixes (Felix's iface-list: 1-15 of a-z A-Z 0-9 _ -). */
export const ifacePrefixListType = valueType<string[]>(
  'a comma-separated list of interface name prefixes, each 1-15 characters of a-z, A-Z, 0-9, `_`, `-`',
  trimmed.regex(/^[a-zA-Z0-9_-]{1,15}(,[a-zA-Z0-9_-]{1,15})*$/, 'not an interface prefix list').transform((s) => s.split(',')),
  (v) => v.join(','),
);

/** An IPv4 CIDR; host bits must be zero so the pool is exactly what the operator wrote. */
export const ipv4CidrType = valueType<string>(
  'an IPv4 network in CIDR form with no host bits set (`10.65.0.0/16`)',
  trimmed.refine((s) => parseIPv4Cidr(s)?.aligned === true, 'not an aligned IPv4 CIDR'),
);

/**
 * calico-node's IP: unset means "keep the Node resource's address, autodetect if it has none";
 * `autodetect` forces detection; `none` disables IPv4; otherwise an address, optionally with a
 * prefix length giving the subnet (used for CrossSubnet decisions).
 */
export const nodeIPType = valueType<string>(
  '`autodetect`, `none`, or an IPv4 address with optional prefix length (`198.18.0.5` or `198.18.0.5/24`)',
  trimmed.refine((s) => {
    if (s === 'autodetect' || s === 'none') return true;
    const [addr, len, extra] = s.split('/');
    if (extra !== undefined || !isIPv4(addr ?? '')) return false;
    return len === undefined || (/^\d+$/.test(len) && Number(len) <= 32);
  }, 'not an address'),
);

/** calico-node's IP_AUTODETECTION_METHOD forms. */
export const autodetectMethodType = valueType<string>(
  '`first-found`, `kubernetes-internal-ip`, `can-reach=DEST`, `interface=REGEX[,REGEX]`, `skip-interface=REGEX[,REGEX]` or `cidr=CIDR[,CIDR]`',
  trimmed.superRefine((s, ctx) => {
    if (s === 'first-found' || s === 'kubernetes-internal-ip') return;
    const eq = s.indexOf('=');
    const kind = eq === -1 ? s : s.slice(0, eq);
    const arg = eq === -1 ? '' : s.slice(eq + 1);
    const fail = (message: string): void => ctx.addIssue({ code: 'custom', message });
    switch (kind) {
      case 'can-reach':
        if (arg === '') fail('can-reach needs a destination');
        return;
      case 'interface':
      case 'skip-interface':
        if (arg === '') return fail(`${kind} needs a regular expression`);
        for (const re of arg.split(',')) {
          try {
            new RegExp(re);
          } catch {
            return fail(`${JSON.stringify(re)} is not a valid regular expression`);
          }
        }
        return;
      case 'cidr':
        if (arg === '') return fail('cidr needs at least one CIDR');
        for (const c of arg.split(',')) if (!parseIPv4Cidr(c.trim()) && !isIP(c.trim().split('/')[0] ?? '')) return fail(`${JSON.stringify(c)} is not a CIDR`);
        return;
      default:
        fail('unknown method');
    }
  }),
);

/**
 * A BGP AS number: plain (`64512`) or asdot (`1.10` = 1*65536+10), 1 to 4294967295, as Calico's
 * numorstring.ASNumber accepts.
 */
export const asNumberType = valueType<number>(
  'an AS number from 1 to 4294967295, plain (`64512`) or asdot (`1.10`)',
  trimmed.transform((s, ctx) => {
    let n: number | undefined;
    const dot = /^(\d+)\.(\d+)$/.exec(s);
    if (/^\d+$/.test(s)) n = Number(s);
    else if (dot && Number(dot[1]) <= 0xffff && Number(dot[2]) <= 0xffff) n = Number(dot[1]) * 65536 + Number(dot[2]);
    if (n === undefined || n < 1 || n > 0xffffffff) {
      ctx.addIssue({ code: 'custom', message: 'not an AS number' });
      return z.NEVER;
    }
    return n;
  }),
);

/** Parses `a.b.c.d/len`; `aligned` says whether the host bits are zero. */
export function parseIPv4Cidr(s: string): { addr: number; len: number; aligned: boolean } | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(s);
  if (!m || !isIPv4(m[1]!)) return undefined;
  const len = Number(m[2]);
  if (len > 32) return undefined;
  const addr = m[1]!.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const hostBits = 2 ** (32 - len);
  return { addr, len, aligned: addr % hostBits === 0 };
}

/** One failsafe entry: protocol, optional CIDR, port (Felix's ProtoPort). */
export interface FailsafePort {
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly port: number;
  readonly net?: string;
}

function parseFailsafeEntry(s: string): FailsafePort | string {
  // `tcp:22`, `udp:68`, `tcp:10.0.0.0/8:2379`, `tcp:[fd00::/8]:22`; a bare port means tcp.
  const m = /^(?:(tcp|udp|sctp):)?(?:(\[[0-9a-fA-F:./]+\]|[0-9.]+\/\d+):)?(\d+)$/i.exec(s);
  if (!m) return `'${s}' is not protocol:port or protocol:cidr:port`;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return `port ${m[3]} out of range`;
  const net = m[2]?.replace(/^\[|\]$/g, '');
  if (net && isIP(net.split('/')[0]!) === 0) return `'${net}' is not a CIDR`;
  const protocol = (m[1]?.toLowerCase() ?? 'tcp') as FailsafePort['protocol'];
  return net ? { protocol, port, net } : { protocol, port };
}

/** Felix's FailsafeInboundHostPorts / FailsafeOutboundHostPorts: comma-separated, or `none`. */
export const failsafePortsType = valueType<FailsafePort[]>(
  'a comma-separated list of `protocol:port` or `protocol:cidr:port` (`tcp:22,udp:68`), or `none`',
  trimmed.transform((s, ctx) => {
    if (s === '' || s.toLowerCase() === 'none') return [];
    const out: FailsafePort[] = [];
    for (const part of s.split(',')) {
      const r = parseFailsafeEntry(part.trim());
      if (typeof r === 'string') {
        ctx.addIssue({ code: 'custom', message: r });
        return z.NEVER;
      }
      out.push(r);
    }
    return out;
  }),
  (v) => (v.length === 0 ? 'none' : v.map((p) => (p.net ? `${p.protocol}:${p.net}:${p.port}` : `${p.protocol}:${p.port}`)).join(',')),
);

/** A 32-bit mark mask (`0xffff0000`), as Felix's IptablesMarkMask; needs at least 5 bits. */
export const markMaskType = valueType<number>(
  'a 32-bit mask in hex or decimal with at least 5 bits set (`0xffff0000`)',
  trimmed.transform((s, ctx) => {
    const n = /^0x[0-9a-f]{1,8}$/i.test(s) ? parseInt(s, 16) : /^\d+$/.test(s) ? Number(s) : NaN;
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
      ctx.addIssue({ code: 'custom', message: 'not a 32-bit number' });
      return z.NEVER;
    }
    let bits = 0;
    for (let v = n; v; v >>>= 1) bits += v & 1;
    if (bits < 5) {
      ctx.addIssue({ code: 'custom', message: `only ${bits} bits set; Felix needs 5 (accept, pass, drop, scratch0, scratch1)` });
      return z.NEVER;
    }
    return n >>> 0;
  }),
  (v) => `0x${v.toString(16).padStart(8, '0')}`,
);

/** `first:last` port range, or 0 for none (Felix's NATPortRange). */
export const portRangeType = valueType<{ first: number; last: number } | null>(
  '`first:last` ports (`32768:65535`) or `0` for none',
  trimmed.transform((s, ctx) => {
    if (s === '0' || s === '') return null;
    const m = /^(\d+)[:-](\d+)$/.exec(s);
    const first = Number(m?.[1]);
    const last = Number(m?.[2]);
    if (!m || first < 1 || last > 65535 || first > last) {
      ctx.addIssue({ code: 'custom', message: 'not a port range' });
      return z.NEVER;
    }
    return { first, last };
  }),
  (v) => (v ? `${v.first}:${v.last}` : '0'),
);

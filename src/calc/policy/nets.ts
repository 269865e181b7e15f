/**
 * Canonical text for the nets policy matches on: a CIDR with its host bits cleared and IPv6
 * compressed (RFC 5952), or a bare address taken as its host prefix. IP set members and rules are
 * compared as text (by the dataplane's delta tracking), so one spelling per network is needed.
 */
import { parseCidr } from '../../datastore/model/index.js';

const V4_HOST = /^(?:\d{1,3}\.){3}\d{1,3}\/32$/;

/** `10.0.0.5/24` → `10.0.0.0/24`; `10.0.0.5` → `10.0.0.5/32`; `2001:DB8::1` → `2001:db8::1/128`. */
export function normaliseNet(s: string): string {
  if (V4_HOST.test(s)) return s; // the common case (endpoint addresses): nothing to do
  const text = s.includes('/') ? s : `${s}/${s.includes(':') ? 128 : 32}`;
  return parseCidr(text)?.network ?? s;
}

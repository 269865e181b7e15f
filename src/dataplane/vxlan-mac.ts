/**
 * Calico's rule for the VXLAN device MAC when the Node has no `vxlanTunnelMACAddr`: `66` (a
 * locally administered unicast first octet) followed by the first five bytes of sha1(nodename).
 */
import { createHash } from 'node:crypto';

export function vxlanMac(nodeName: string, configured?: string): string {
  if (configured) return configured.toLowerCase();
  const h = createHash('sha1').update(nodeName).digest();
  return ['66', ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

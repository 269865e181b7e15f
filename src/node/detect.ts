/**
 * The I/O half of node address detection: reads this host's interfaces with `ip -json addr` and
 * resolves `can-reach` with `ip -json route get`, then applies the pure rules of autodetect.ts.
 * Also finds the uplink (the interface carrying the node address) and its MTU, which the routing
 * calculation needs for the VXLAN/IPIP device MTU and as the parent of the VXLAN device.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { isIPv4 } from 'node:net';
import { lookup } from 'node:dns/promises';
import { UserError, errorMessage } from '../util/errors.js';
import { interfaceOf, parseAutodetectMethod, parseIpAddrJson, selectAddress, type DetectedAddress, type InterfaceAddrs } from './autodetect.js';

const run = promisify(execFile);
/** One `ip` invocation; iproute2 answers in milliseconds, so 10 s means something is wrong. */
const IP_TIMEOUT_MS = 10_000;

export async function listInterfaces(): Promise<InterfaceAddrs[]> {
  const { stdout } = await run('ip', ['-json', 'addr', 'show'], { timeout: IP_TIMEOUT_MS });
  return parseIpAddrJson(stdout);
}

/** The source address the kernel would use to reach `dest` (IP or host name). */
export async function routeSource(dest: string): Promise<string | undefined> {
  let ip = dest;
  if (!isIPv4(dest)) {
    try {
      ip = (await lookup(dest, { family: 4 })).address;
    } catch (e) {
      throw new UserError(`IP_AUTODETECTION_METHOD=can-reach=${dest}: cannot resolve ${dest}: ${errorMessage(e)}`);
    }
  }
  try {
    const { stdout } = await run('ip', ['-json', 'route', 'get', ip], { timeout: IP_TIMEOUT_MS });
    const r = JSON.parse(stdout) as { prefsrc?: string }[];
    return r[0]?.prefsrc;
  } catch {
    return undefined; // no route: the method finds nothing, reported by the caller
  }
}

/** Detects the node address with calico-node's IP_AUTODETECTION_METHOD. */
export async function autodetectAddress(methodText: string, ifaces?: InterfaceAddrs[]): Promise<DetectedAddress | undefined> {
  const method = parseAutodetectMethod(methodText);
  const list = ifaces ?? (await listInterfaces());
  const src = method.kind === 'can-reach' ? await routeSource(method.dest) : undefined;
  return selectAddress(method, list, src);
}

/** Where the address `ip` lives (interface, prefix length, MTU), or undefined if not on this host. */
export async function locateAddress(ip: string, ifaces?: InterfaceAddrs[]): Promise<DetectedAddress | undefined> {
  return interfaceOf(ip, ifaces ?? (await listInterfaces()));
}

/**
 * The real kernel: every DataplaneKernel interface backed by iproute2, in the current network
 * namespace (the agent) or a named one (tests, lab). See docs/decisions/0001-netlink.md.
 */
import type { DataplaneKernel } from './dataplane.js';
import { ProcessRunner, type CommandRunner } from './exec.js';
import { Iproute2Links } from './iproute2-links.js';
import { Iproute2Neigh } from './iproute2-neigh.js';
import { Iproute2Routes } from './iproute2-routes.js';
import { NetnsSysctl, ProcSysctl } from './sysctl-io.js';

export interface Iproute2KernelOptions {
  /** Run every command in this named namespace (`ip -n`, `ip netns exec`); default: our own. */
  netns?: string;
  runner?: CommandRunner;
  timeoutMs?: number;
}

export function iproute2Kernel(opts: Iproute2KernelOptions = {}): DataplaneKernel {
  const runner = opts.runner ?? new ProcessRunner();
  const target = opts.netns ? { netns: opts.netns } : {};
  return {
    routes: new Iproute2Routes(runner, target, opts.timeoutMs),
    links: new Iproute2Links(runner, target, opts.timeoutMs),
    neigh: new Iproute2Neigh(runner, target, opts.timeoutMs),
    sysctl: opts.netns ? new NetnsSysctl(runner, opts.netns, opts.timeoutMs) : new ProcSysctl(),
  };
}

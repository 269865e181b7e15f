/**
 * The dataplane's public surface, for the agent and the calc layer: the desired-state types, the
 * Dataplane driver, and `createNodeDataplane`, which wires the driver to the real kernel
 * (iproute2) and to `ip monitor` the way the agent runs it.
 */
import type { Registry } from 'prom-client';
import { Dataplane, type DataplaneOptions } from './dataplane.js';
import { iproute2Kernel } from './kernel.js';
import { KernelMonitor } from './monitor.js';
import { ProcessRunner } from './exec.js';
import { PolicyDataplane, type PolicyDataplaneOptions } from './policy/policy-dataplane.js';
import type { Logger } from '../util/log.js';

export { Dataplane, DEFAULT_ROUTE_REFRESH_INTERVAL_MS, type ApplyReport, type DataplaneKernel, type DataplaneOptions, type DataplaneStatus } from './dataplane.js';
export * from './types.js';
export { vxlanMac } from './vxlan-mac.js';
export { iproute2Kernel } from './kernel.js';
export { KernelMonitor, type KernelEvent } from './monitor.js';
export { DeltaTracker } from './deltatracker.js';

export { PolicyDataplane, type PolicyDataplaneOptions } from './policy/policy-dataplane.js';

/** The policy dataplane's settings; the runner, namespace, metrics and log are the driver's. */
export type NodePolicyOptions = Omit<PolicyDataplaneOptions, 'runner' | 'netns' | 'registry' | 'log' | 'kick' | 'onRepair'>;

export interface NodeDataplaneOptions extends Omit<DataplaneOptions, 'kernel' | 'policy'> {
  /** Only for tests and the lab: drive a named namespace from outside. The agent leaves it unset. */
  netns?: string;
  registry?: Registry;
  log?: Logger;
  /** Timeout for one iproute2 invocation. */
  execTimeoutMs?: number;
  /** IP sets and iptables; absent: routing only. */
  policy?: NodePolicyOptions;
}

export interface NodeDataplane {
  dataplane: Dataplane;
  start(): void;
  stop(): Promise<void>;
}

/** The driver on the real kernel, with `ip monitor` feeding it events. Call start() once. */
export function createNodeDataplane(opts: NodeDataplaneOptions = {}): NodeDataplane {
  const runner = new ProcessRunner();
  const kernel = iproute2Kernel({ netns: opts.netns, timeoutMs: opts.execTimeoutMs, runner });
  const { policy, ...rest } = opts;
  const dataplane = new Dataplane({
    ...rest,
    kernel,
    ...(policy
      ? {
          policy: (hooks: { kick: () => void; onRepair: (kind: 'iptables' | 'ipset', n: number) => void }) =>
            new PolicyDataplane({
              ...policy,
              runner,
              ...hooks,
              ...(opts.netns ? { netns: opts.netns } : {}),
              ...(opts.registry ? { registry: opts.registry } : {}),
              ...(opts.log ? { log: opts.log } : {}),
            }),
        }
      : {}),
  });
  const monitor = new KernelMonitor(opts.netns ? { netns: opts.netns } : {}, (e) => dataplane.onKernelEvent(e), { log: opts.log });
  return {
    dataplane,
    start() {
      monitor.start();
      dataplane.start();
    },
    async stop() {
      monitor.stop();
      await dataplane.stop();
    },
  };
}

/**
 * calico-node's startup duties as the agent's first component: work out this node's IPv4 address
 * (IP / IP_AUTODETECTION_METHOD), the uplink carrying it and its MTU, then make the datastore say
 * so (Node resource, default pool, tunnel addresses; src/node/startup.ts). Later pool changes
 * re-run the tunnel address step, so switching a pool to VXLAN needs no restart.
 *
 * Both datastores are written: etcd v3 (node/etcd-store.ts) and the Kubernetes API (Node
 * annotations, IPPool and IPAM CRDs; datastore/k8s/node-writer.ts).
 *
 * Datastore writes are retried in the background: an unreachable datastore must not stop the agent
 * from starting (the dataplane keeps its last state meanwhile), it only delays readiness.
 */
import { Etcd3 } from 'etcd3';
import { etcdClientOptions } from '../datastore/etcd/options.js';
import type { Update } from '../datastore/syncer.js';
import type { AgentConfig } from '../config/schema.js';
import { UserError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { autodetectAddress, listInterfaces, locateAddress } from '../node/detect.js';
import type { DetectedAddress } from '../node/autodetect.js';
import { EtcdNodeStore } from '../node/etcd-store.js';
import { KubeClient } from '../datastore/k8s/client.js';
import { loadKubeAuth } from '../datastore/k8s/kubeconfig.js';
import { K8sNodeStore } from '../datastore/k8s/node-writer.js';
import { ensureTunnelAddresses, runStartup, type NodeStore, type StartupSettings } from '../node/startup.js';
import type { AgentComponent, AgentContext } from './component.js';
import type { HealthReporter } from '../health/aggregator.js';

/** Retry delays for startup writes while the datastore is unreachable: 1 s doubling to 30 s (Felix's cap). */
const RETRY_INITIAL_MS = 1_000;
const RETRY_MAX_MS = 30_000;
/** How long start-up waits for the Node resource (IP unset) before autodetecting instead. */
const NODE_READ_TIMEOUT_MS = 3_000;
/** Pool changes arrive in bursts (a calicoctl apply of several pools): coalesce them. */
const POOL_DEBOUNCE_MS = 500;

export class NodeComponent implements AgentComponent {
  readonly name = 'node';
  /** The node address with its interface and MTU; undefined when IP=none or nothing was found. */
  address: DetectedAddress | undefined;
  private store: NodeStore | undefined;
  private etcd: Etcd3 | undefined;
  private kube: KubeClient | undefined;
  private log!: Logger;
  private reporter!: HealthReporter;
  private retry: NodeJS.Timeout | undefined;
  private poolTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private settings!: StartupSettings;
  private done = false;

  constructor(private readonly config: AgentConfig) {}

  async start(ctx: AgentContext): Promise<void> {
    this.log = ctx.logger;
    this.reporter = ctx.health.register({ name: this.name, live: true, ready: true, timeoutMs: 0 });
    this.reporter.report({ live: true, ready: false, detail: 'node startup not done' });
    const c = this.config;
    if (c.datastoreType === 'etcdv3') {
      this.etcd = new Etcd3(etcdClientOptions({ endpoints: c.etcdEndpoints, caFile: c.etcdCaCertFile, certFile: c.etcdCertFile, keyFile: c.etcdKeyFile }));
      this.store = new EtcdNodeStore(this.etcd);
    } else {
      // Kubernetes datastore: Node annotations, the IPPool and IPAM CRDs (datastore/k8s/node-writer.ts).
      // Credentials that cannot be loaded are a UserError, as they are for the syncer.
      this.kube = new KubeClient(await loadKubeAuth(c.kubeconfig));
      this.store = new K8sNodeStore(this.kube);
    }
    this.settings = {
      nodeName: c.nodename,
      ...(c.as !== undefined ? { asNumber: c.as } : {}),
      networkingBackend: c.networkingBackend,
      defaultPool: { cidr: c.ipv4PoolCidr, ipipMode: c.ipv4PoolIpip, vxlanMode: c.ipv4PoolVxlan, natOutgoing: c.ipv4PoolNatOutgoing },
    };
    // A host without a usable address yet (interfaces still coming up) is not a reason to refuse
    // to start: the rest of the agent runs, readiness says why, detection is retried.
    await this.detect(RETRY_INITIAL_MS);
  }

  private async detect(nextDelay: number): Promise<void> {
    if (this.stopped) return;
    try {
      this.address = await this.resolveAddress();
    } catch (e) {
      this.log.error({ err: errorMessage(e), retryInMs: nextDelay }, `cannot determine this node's IPv4 address: ${errorMessage(e)}`);
      this.reporter.report({ live: true, ready: false, detail: `no node address: ${errorMessage(e)}` });
      this.retry = setTimeout(() => void this.detect(Math.min(RETRY_MAX_MS, nextDelay * 2)), nextDelay);
      this.retry.unref();
      return;
    }
    if (this.address) this.settings.ipv4Cidr = this.address.cidr;
    this.schedule(0, RETRY_INITIAL_MS);
  }

  /** Re-checks the tunnel addresses when pools change (called with felix syncer batches). */
  onUpdates(batch: readonly Update[]): void {
    if (!this.store || !batch.some((u) => u.kind === 'IPPool')) return;
    if (this.poolTimer) clearTimeout(this.poolTimer);
    this.poolTimer = setTimeout(() => {
      this.poolTimer = undefined;
      if (this.done) void this.serial(() => this.tunnels());
    }, POOL_DEBOUNCE_MS);
    this.poolTimer.unref();
  }

  private schedule(delay: number, nextDelay: number): void {
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.serial(async () => {
        try {
          const r = await runStartup(this.store!, this.settings, this.log);
          this.done = true;
          this.reporter.report({ live: true, ready: true, detail: `Node ${this.settings.nodeName} written${r.vxlanTunnelAddr ? `, VXLAN tunnel ${r.vxlanTunnelAddr}` : ''}${r.ipipTunnelAddr ? `, IPIP tunnel ${r.ipipTunnelAddr}` : ''}` });
        } catch (e) {
          if (this.stopped) return;
          this.log.warn({ err: errorMessage(e), retryInMs: nextDelay }, 'node startup (Node resource, pool, tunnel address) failed; retrying');
          this.reporter.report({ live: true, ready: false, detail: `node startup failed: ${errorMessage(e)}` });
          this.schedule(nextDelay, Math.min(RETRY_MAX_MS, nextDelay * 2));
        }
      });
    }, delay);
    this.retry.unref();
  }

  private async tunnels(): Promise<void> {
    try {
      await ensureTunnelAddresses(this.store!, this.settings, await this.store!.listPools(), this.log);
    } catch (e) {
      this.log.warn({ err: errorMessage(e) }, 'updating tunnel addresses after a pool change failed; will retry on the next pool change or restart');
    }
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const p = (this.running ?? Promise.resolve()).then(() => (this.stopped ? undefined : fn()));
    this.running = p.catch(() => undefined);
    return this.running;
  }

  private async resolveAddress(): Promise<DetectedAddress | undefined> {
    const c = this.config;
    const ifaces = await listInterfaces();
    if (c.ip === 'none') return undefined;
    if (c.ip && c.ip !== 'autodetect') {
      const [addr, len] = c.ip.split('/');
      const where = await locateAddress(addr!, ifaces);
      if (!where) {
        this.log.warn({ ip: c.ip }, 'IP is not configured on any interface of this host; using it anyway (uplink MTU unknown, 1500 assumed)');
        return { cidr: len ? c.ip : `${addr}/32`, iface: '', mtu: 1500 };
      }
      return { ...where, cidr: len ? c.ip : where.cidr };
    }
    if (c.ip === undefined) {
      // calico-node: with IP unset an address the Node already has is kept, as long as this host
      // still holds it; only a new node (or a moved address) is detected.
      const kept = await this.existingNodeAddress();
      if (kept) {
        const where = await locateAddress(kept.split('/')[0]!, ifaces);
        if (where) {
          this.log.info({ address: kept, interface: where.iface }, 'keeping the Node resource\'s address (IP unset)');
          return { ...where, cidr: kept };
        }
        this.log.warn({ address: kept }, 'the Node resource\'s address is not on this host any more; detecting a new one');
      }
    }
    const found = await autodetectAddress(c.ipAutodetectionMethod, ifaces);
    if (!found) {
      throw new UserError(
        `no IPv4 address found with IP_AUTODETECTION_METHOD=${c.ipAutodetectionMethod}: set IP=a.b.c.d/len or choose another method (interface=REGEX, can-reach=DEST, cidr=CIDR)`,
      );
    }
    this.log.info({ address: found.cidr, interface: found.iface, method: c.ipAutodetectionMethod }, 'autodetected the node IPv4 address');
    return found;
  }

  /** The Node's spec.bgp.ipv4Address, if the datastore answers (a failure just means: detect). */
  private async existingNodeAddress(): Promise<string | undefined> {
    if (!this.store) return undefined;
    try {
      let addr: string | undefined;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.store.updateNode(this.config.nodename, (cur) => {
          addr = cur?.spec.bgp?.ipv4Address;
          return undefined;
        }),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${NODE_READ_TIMEOUT_MS} ms`)), NODE_READ_TIMEOUT_MS);
        }),
      ]).finally(() => clearTimeout(timer));
      return addr;
    } catch (e) {
      this.log.warn({ err: errorMessage(e) }, 'cannot read the Node resource to keep its address; autodetecting');
      return undefined;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.poolTimer) clearTimeout(this.poolTimer);
    await this.running;
    this.etcd?.close();
    this.kube?.close();
  }
}

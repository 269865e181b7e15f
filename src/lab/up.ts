/**
 * `tortie lab up`: builds a lab step by step, saving the state file after every step that
 * created something (the state file is written before anything exists), so a crash at any point
 * leaves a record that `down` or `down --stale` can follow. A failure inside `up` removes what
 * it made itself, and only that: namespaces of another lab with the same name are never touched.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import { birdConfig, DEFAULT_BIRD_AS, startBird } from './bird.js';
import { DEFAULT_BLOCK_SIZE, DEFAULT_POOL_CIDR, ENCAP_MODES, type EncapMode } from './calico-resources.js';
import { provisionCluster } from './datastore.js';
import { etcdHealth, startEtcd } from './etcd.js';
import { isRunning, mapLimit, processStartTime, waitFor } from './exec.js';
import { parseCidr, poolBlocks } from './ipam.js';
import {
  BIRD_IP, bridgeIp, ETCD_IP, FABRIC_PREFIX_LEN, FABRIC_SUBNETS, MAX_NODES, labNetnsPrefix, netnsName, nodeIp, nodeName, nodeSubnet,
  routerIp, validateLabName,
} from './names.js';
import { netnsList } from './netns.js';
import { requireRoot } from './root.js';
import { indexedStateFile, labDir, readStateFile, saveLab, stateFile, withLabLock, workDirOf, type LabState } from './state.js';
import { teardown } from './teardown.js';
import { addDefaultRoute, attachToFabric, buildFabric, enableForwarding, makeNetns } from './topology.js';

export interface BirdPeerOptions {
  asNumber?: number;
  /** BIRD waits for the nodes to connect. Default false (BIRD connects too). */
  passive?: boolean;
  /** BIRD reflects routes between the nodes (`rr client`). Default true. */
  routeReflector?: boolean;
}

export interface LabUpOptions {
  name: string;
  nodes: number;
  /** 'etcd' (default) runs etcd 3.4 on the fabric; 'none' builds only the network. */
  datastore?: 'etcd' | 'none';
  birdPeer?: boolean | BirdPeerOptions;
  /** 1 (default) or 2: two fabric subnets joined by a router namespace (CrossSubnet tests). */
  subnets?: 1 | 2;
  pool?: { cidr?: string; blockSize?: number; ipipMode?: EncapMode; vxlanMode?: EncapMode; natOutgoing?: boolean };
  /** Write the Node resources (spec.bgp.ipv4Address) as a pre-provisioned cluster has. Default true. */
  provisionNodes?: boolean;
  /** Owner process; the lab is stale once it is gone. Default: this process. 0 = persistent. */
  ownerPid?: number;
  /** Progress messages (the CLI prints them). */
  log?: Logger;
}


/** How many namespaces to probe at once when checking etcd from every node (2 shared cores). */
const PROBE_CONCURRENCY = 6;

/** Is there any trace of a lab with this name: a state file here, an index entry, a namespace? */
function labExists(name: string): string | undefined {
  if (readStateFile(stateFile(name))) return `state file ${stateFile(name)}`;
  const indexed = indexedStateFile(name);
  if (indexed && readStateFile(indexed)) return `state file ${indexed}`;
  const ns = netnsList().find((n) => n.startsWith(labNetnsPrefix(name)));
  if (ns) return `namespace ${ns}`;
  return undefined;
}

function resolveBirdPeer(b: LabUpOptions['birdPeer']): Required<BirdPeerOptions> | undefined {
  if (!b) return undefined;
  const o = b === true ? {} : b;
  return { asNumber: o.asNumber ?? DEFAULT_BIRD_AS, passive: o.passive ?? false, routeReflector: o.routeReflector ?? true };
}

function validateUp(o: LabUpOptions): void {
  validateLabName(o.name);
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > MAX_NODES) throw new UserError(`--nodes must be an integer from 1 to ${MAX_NODES}, got ${o.nodes}`);
  const subnets = o.subnets ?? 1;
  if (subnets !== 1 && subnets !== 2) throw new UserError(`--subnets must be 1 or 2, got ${String(subnets)}`);
  if (subnets === 2 && o.nodes < 2) throw new UserError('--subnets 2 needs at least 2 nodes');
  if (o.datastore !== undefined && o.datastore !== 'etcd' && o.datastore !== 'none') throw new UserError(`--datastore must be etcd or none, got ${String(o.datastore)}`);
  if (o.birdPeer && o.datastore === 'none') throw new UserError('--bird-peer needs the etcd datastore (the BGPPeer resource lives there)');
  const asn = resolveBirdPeer(o.birdPeer)?.asNumber;
  if (asn !== undefined && (!Number.isInteger(asn) || asn < 1 || asn > 4294967295)) throw new UserError(`invalid AS number ${asn}`);
  poolBlocks(o.pool?.cidr ?? DEFAULT_POOL_CIDR, o.pool?.blockSize ?? DEFAULT_BLOCK_SIZE);
  // An owner that is already gone would make the new lab stale at once.
  if (o.ownerPid !== undefined && o.ownerPid !== 0 && !isRunning(o.ownerPid)) throw new UserError(`--owner-pid ${o.ownerPid}: no such process`);
  for (const k of ['ipipMode', 'vxlanMode'] as const) {
    const m = o.pool?.[k];
    if (m !== undefined && !ENCAP_MODES.includes(m)) throw new UserError(`pool ${k} must be one of ${ENCAP_MODES.join(', ')}, got ${String(m)}`);
  }
}

/** Brings a lab up; on any failure removes everything it made and rethrows. */
export async function labUp(o: LabUpOptions): Promise<LabState> {
  requireRoot();
  validateUp(o);
  const log = o.log ?? silentLogger;
  const subnets = o.subnets ?? 1;
  const bird = resolveBirdPeer(o.birdPeer);
  const pool = { cidr: o.pool?.cidr ?? DEFAULT_POOL_CIDR, blockSize: o.pool?.blockSize ?? DEFAULT_BLOCK_SIZE };
  parseCidr(pool.cidr);
  return withLabLock(o.name, async () => {
    const existing = labExists(o.name);
    if (existing) throw new UserError(`lab ${o.name} already exists (${existing}); run 'tortie lab down ${o.name}' first`);
    const ownerPid = o.ownerPid ?? process.pid;
    const workDir = workDirOf(o.name);
    mkdirSync(workDir, { recursive: true, mode: 0o755 });
    const state: LabState = {
      version: 1,
      name: o.name,
      createdAt: new Date().toISOString(),
      phase: 'creating',
      ownerPid,
      ownerStartTime: ownerPid ? processStartTime(ownerPid) : undefined,
      workDir,
      subnets,
      pool,
      namespaces: [],
      fabricNetns: netnsName(o.name, 'fabric'),
      nodes: [],
      pods: [],
    };
    // Saved before anything exists, so even a crash in the first step is found by `down`.
    saveLab(state);
    const created = (ns: string) => {
      state.namespaces.push(ns);
      saveLab(state);
    };
    try {
      log.info({ lab: o.name }, 'creating the fabric');
      await makeNetns(state.fabricNetns, created);
      await buildFabric(state.fabricNetns, subnets);
      if (subnets === 2) {
        const rtr = netnsName(o.name, 'router');
        await makeNetns(rtr, created);
        state.routerNetns = rtr;
        for (let s = 0; s < 2; s++) {
          await attachToFabric({ fabricNs: state.fabricNetns, memberNs: rtr, fabricIface: `rtr${s}`, subnet: s, ip: routerIp(s), iface: `eth${s}` });
        }
        await enableForwarding(rtr);
      }
      // Like a real host, every member has a default route: to the router in two-subnet labs,
      // else to the bridge address (the fabric namespace does not forward, so it goes no
      // further). Calico depends on one: proxy ARP answers the pods' 169.254.1.1 gateway only
      // when the node has a route to that address.
      const otherSubnetRoute = async (ns: string, subnet: number) => {
        await addDefaultRoute(ns, subnets === 2 ? routerIp(subnet) : bridgeIp(0));
      };
      for (let i = 1; i <= o.nodes; i++) {
        const name = nodeName(i);
        const ns = netnsName(o.name, name);
        const subnet = nodeSubnet(i, o.nodes, subnets);
        const ip = nodeIp(i, o.nodes, subnets);
        log.info({ node: name, ip }, 'creating node');
        await makeNetns(ns, created);
        state.nodes.push({ name, index: i, netns: ns, ip, prefixLen: FABRIC_PREFIX_LEN, subnet, fabricIface: `n${i}` });
        await attachToFabric({ fabricNs: state.fabricNetns, memberNs: ns, fabricIface: `n${i}`, subnet, ip });
        await enableForwarding(ns);
        await otherSubnetRoute(ns, subnet);
        saveLab(state);
      }
      if ((o.datastore ?? 'etcd') === 'etcd') {
        const ns = netnsName(o.name, 'etcd');
        await makeNetns(ns, created);
        await attachToFabric({ fabricNs: state.fabricNetns, memberNs: ns, fabricIface: 'etcd', subnet: 0, ip: ETCD_IP });
        await otherSubnetRoute(ns, 0);
        log.info({ ip: ETCD_IP }, 'starting etcd');
        const logFile = join(workDir, 'etcd.log');
        const dataDir = join(workDir, 'etcd');
        const etcd = await startEtcd({ netns: ns, listenIp: ETCD_IP, dataDir, logFile });
        state.etcd = {
          pid: etcd.pid, startTime: processStartTime(etcd.pid), netns: ns, ip: ETCD_IP, logFile,
          endpoint: etcd.endpoint, unixEndpoint: etcd.unixEndpoint, dataDir,
        };
        saveLab(state);
        // Prove the nodes can reach it, from inside each node namespace.
        await mapLimit(state.nodes, PROBE_CONCURRENCY, async (n) => {
          await waitFor(async () => (await etcdHealth(n.netns, etcd.endpoint)).code === 0, {
            timeoutMs: 15_000,
            intervalMs: 250,
            what: `etcd ${etcd.endpoint} to answer from ${n.name}`,
          });
        });
        await provisionCluster(state, {
          // The encapsulation modes and NAT go into the IPPool only; the state file keeps what
          // later commands need (CIDR and block size for IPAM).
          pool: {
            ...pool,
            ...(o.pool?.ipipMode ? { ipipMode: o.pool.ipipMode } : {}),
            ...(o.pool?.vxlanMode ? { vxlanMode: o.pool.vxlanMode } : {}),
            ...(o.pool?.natOutgoing !== undefined ? { natOutgoing: o.pool.natOutgoing } : {}),
          },
          nodes: o.provisionNodes ?? true,
          birdPeer: bird ? { ip: BIRD_IP, asNumber: bird.asNumber } : undefined,
        });
      }
      if (bird) {
        const ns = netnsName(o.name, 'bird');
        await makeNetns(ns, created);
        await attachToFabric({ fabricNs: state.fabricNetns, memberNs: ns, fabricIface: 'bird', subnet: 0, ip: BIRD_IP });
        await otherSubnetRoute(ns, 0);
        const configFile = join(workDir, 'bird.conf');
        const controlSocket = join(workDir, 'bird.ctl');
        const logFile = join(workDir, 'bird.log');
        const config = birdConfig({
          routerId: BIRD_IP,
          asNumber: bird.asNumber,
          localIp: BIRD_IP,
          neighbors: state.nodes.map((n) => ({
            name: n.name.replace(/-/g, '_'),
            ip: n.ip,
            asNumber: bird.asNumber,
            passive: bird.passive,
            rrClient: bird.routeReflector,
            multihop: n.subnet !== 0,
          })),
          staticRoutes: subnets === 2 ? [{ prefix: FABRIC_SUBNETS[1], via: routerIp(0) }] : [],
        });
        log.info({ ip: BIRD_IP, as: bird.asNumber }, 'starting BIRD');
        const h = await startBird({ netns: ns, configFile, config, controlSocket, logFile });
        state.bird = { pid: h.pid, startTime: processStartTime(h.pid), netns: ns, ip: BIRD_IP, logFile, asNumber: bird.asNumber, configFile, controlSocket };
      }
      state.phase = 'ready';
      saveLab(state);
      log.info({ lab: o.name, nodes: o.nodes }, 'lab is up');
      return state;
    } catch (e) {
      log.error({ err: (e as Error).message }, 'lab up failed; removing what was created');
      await teardown(state.name, state, labDir(), { byPrefix: false });
      throw e;
    }
  });
}


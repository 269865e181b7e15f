/**
 * Shared pieces of the Kubernetes datastore tests: a seeded test API server, a syncer over the
 * K8sBackend that folds its updates into a model, and the "server truth" that model must equal —
 * computed from the server's current objects independently of the watch path (list the store,
 * convert, validate), so a lost or duplicated event shows up as a difference.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestApiServer, type KubeObject } from '../k8s-apiserver/server.js';
import { K8sBackend, type K8sBackendOptions } from '../../src/datastore/k8s/backend.js';
import { KubeClient } from '../../src/datastore/k8s/client.js';
import { SOURCES, collectionName } from '../../src/datastore/k8s/resources.js';
import type { K8sObject } from '../../src/datastore/k8s/conversion/k8stypes.js';
import { validateResource, type Resource } from '../../src/datastore/model/index.js';
import { WatcherSyncer } from '../../src/datastore/watchersyncer.js';
import { felixScopes, type SyncStatus, type Update } from '../../src/datastore/syncer.js';
import type { ResourceScope } from '../../src/datastore/types.js';

export const NODE = 'node-1';

/**
 * A self-signed certificate for 127.0.0.1 made with openssl in `dir`: `key.pem`, and `ca.pem`,
 * which is both the server certificate and the CA a kubeconfig names. Throws when openssl is
 * missing (the TLS tests fail loudly rather than skip).
 */
export function selfSignedCert(dir: string): { key: Buffer; cert: Buffer } {
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'ca.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
      { stdio: 'ignore' },
    );
  } catch {
    throw new Error('openssl is needed to make the test certificate');
  }
  return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'ca.pem')) };
}

export async function waitFor(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function pod(name: string, node: string | undefined, opts: { ip?: string; phase?: string; hostNetwork?: boolean; ns?: string; labels?: Record<string, string>; annotations?: Record<string, string> } = {}): KubeObject {
  return {
    metadata: { name, namespace: opts.ns ?? 'default', labels: opts.labels ?? { app: name }, annotations: opts.annotations },
    spec: {
      ...(node ? { nodeName: node } : {}),
      hostNetwork: opts.hostNetwork ?? false,
      serviceAccountName: 'default',
      containers: [{ name: 'c', image: 'busybox', ports: [{ name: 'http', containerPort: 8080 }] }],
    },
    status: { phase: opts.phase ?? 'Running', ...(opts.ip ? { podIP: opts.ip, podIPs: [{ ip: opts.ip }] } : {}) },
  };
}

/** A small cluster: two nodes, pods in every interesting state, Calico CRDs of each felix kind. */
export function seed(s: TestApiServer): void {
  for (const ns of ['default', 'kube-system']) s.create('namespaces', { metadata: { name: ns, labels: { team: ns } } });
  s.create('serviceaccounts', { metadata: { name: 'default', namespace: 'default' } });
  s.create('serviceaccounts', { metadata: { name: 'web', namespace: 'default', labels: { role: 'web' } } });
  s.create('nodes', {
    metadata: {
      name: NODE,
      labels: { 'kubernetes.io/hostname': NODE },
      annotations: {
        'projectcalico.org/IPv4Address': '198.18.0.1/24',
        'projectcalico.org/IPv4VXLANTunnelAddr': '10.65.1.0',
        'projectcalico.org/VXLANTunnelMACAddr': '66:00:00:00:00:01',
        'projectcalico.org/ASNumber': '64512',
      },
    },
    status: { addresses: [{ type: 'InternalIP', address: '198.18.0.1' }] },
  });
  s.create('nodes', { metadata: { name: 'node-2', annotations: { 'projectcalico.org/IPv4Address': '198.18.0.2/24' } } });
  s.create('pods', pod('web-1', NODE, { ip: '10.65.1.2' }));
  s.create('pods', pod('web-2', NODE, { ip: '10.65.1.3' }));
  s.create('pods', pod('far-1', 'node-2', { ip: '10.65.2.2' }));
  s.create('pods', pod('hostnet-1', NODE, { ip: '198.18.0.1', hostNetwork: true }));
  s.create('pods', pod('pending-1', undefined));
  s.create('pods', pod('done-1', NODE, { ip: '10.65.1.9', phase: 'Succeeded' }));
  s.create('pods', pod('cni-1', NODE, { annotations: { 'cni.projectcalico.org/podIP': '10.65.1.7/32' } }));
  s.create('ippools.crd.projectcalico.org', { metadata: { name: 'default-ipv4-ippool' }, spec: { cidr: '10.65.0.0/16', vxlanMode: 'Always', blockSize: 26 } });
  s.create('ipamblocks.crd.projectcalico.org', {
    metadata: { name: '10-65-1-0-26' },
    spec: { cidr: '10.65.1.0/26', affinity: `host:${NODE}`, allocations: [], unallocated: [], attributes: [], deleted: false },
  });
  s.create('blockaffinities.crd.projectcalico.org', { metadata: { name: `${NODE}-10-65-1-0-26` }, spec: { node: NODE, cidr: '10.65.1.0/26', state: 'confirmed', deleted: 'false' } });
  s.create('blockaffinities.crd.projectcalico.org', { metadata: { name: 'node-2-10-65-2-0-26' }, spec: { node: 'node-2', cidr: '10.65.2.0/26', state: 'confirmed', deleted: 'false' } });
  s.create('felixconfigurations.crd.projectcalico.org', { metadata: { name: 'default' }, spec: { vxlanEnabled: true } });
  s.create('clusterinformations.crd.projectcalico.org', { metadata: { name: 'default' }, spec: { datastoreReady: true } });
  s.create('bgpconfigurations.crd.projectcalico.org', { metadata: { name: 'default' }, spec: { asNumber: 64512 } });
  s.create('networkpolicies.networking.k8s.io', {
    metadata: { name: 'deny-all', namespace: 'default' },
    spec: { podSelector: {}, policyTypes: ['Ingress'] },
  });
}

/** What consumers of a syncer over these scopes must hold, computed from the server's store. */
export function truth(s: TestApiServer, scopes: readonly ResourceScope[], nodeName = NODE): Map<string, Resource> {
  const out = new Map<string, Resource>();
  for (const scope of scopes) {
    for (const source of SOURCES[scope.kind]) {
      for (const obj of s.list(collectionName(source.api))) {
        if (source.api.plural === 'pods' && (obj.spec as { nodeName?: string } | undefined)?.nodeName !== nodeName) continue;
        const c = source.convert(obj as unknown as K8sObject, { nodeName, scope, warn: () => undefined });
        if (c.type !== 'item' || c.item.value === undefined) continue;
        const v = validateResource(scope.kind, c.item.value);
        if (v.ok) out.set(c.item.key, v.resource);
      }
    }
  }
  return out;
}

export type Harness = {
  server: TestApiServer;
  backend: K8sBackend;
  syncer: WatcherSyncer;
  model: Map<string, Resource>;
  updates: Update[];
  statuses: SyncStatus[];
  scopes: readonly ResourceScope[];
  /** Waits until the model equals the server's truth. */
  converge(what: string): Promise<void>;
  close(): Promise<void>;
};

export async function harness(
  opts: { server?: TestApiServer; backend?: Partial<K8sBackendOptions>; scopes?: readonly ResourceScope[]; name?: string; seed?: boolean; start?: boolean } = {},
): Promise<Harness> {
  const server = opts.server ?? (await TestApiServer.start({ bookmarkIntervalMs: 200 }));
  if (opts.seed !== false && !opts.server) seed(server);
  const backend = new K8sBackend({
    client: KubeClient.forServer(server.url),
    nodeName: NODE,
    watchTimeoutSeconds: { min: 30, max: 30 },
    ...opts.backend,
  });
  const scopes = opts.scopes ?? felixScopes('kubernetes');
  const syncer = new WatcherSyncer({ name: opts.name ?? 'felix', backend, scopes, backoff: { initialMs: 20, maxMs: 200 } });
  const model = new Map<string, Resource>();
  const updates: Update[] = [];
  const statuses: SyncStatus[] = [];
  syncer.onUpdates((batch) => {
    for (const u of batch) {
      updates.push(u);
      if (u.type === 'delete') model.delete(u.key);
      else model.set(u.key, u.value!);
    }
  });
  syncer.onStatus((st) => statuses.push(st));
  if (opts.start !== false) syncer.start();
  const h: Harness = {
    server,
    backend,
    syncer,
    model,
    updates,
    statuses,
    scopes,
    async converge(what) {
      let last = '';
      try {
        await waitFor(() => {
          const want = truth(server, scopes);
          if (want.size !== model.size) {
            last = `sizes ${model.size} vs ${want.size}: extra ${[...model.keys()].filter((k) => !want.has(k))} missing ${[...want.keys()].filter((k) => !model.has(k))}`;
            return false;
          }
          for (const [k, v] of want) {
            try {
              assert.deepEqual(model.get(k), v);
            } catch {
              last = `value of ${k} differs`;
              return false;
            }
          }
          return syncer.status === 'InSync';
        }, what);
      } catch (e) {
        throw new Error(`${(e as Error).message}: ${last}`);
      }
    },
    async close() {
      await syncer.stop();
      await backend.close();
      if (!opts.server) await server.stop();
    },
  };
  return h;
}

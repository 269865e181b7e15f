/**
 * The agent's `node` component with DATASTORE_TYPE=kubernetes, configured the way the agent is
 * (environment → loadConfig, a kubeconfig file), against the test API server: it writes the Node
 * annotations, the default pool and the tunnel address, reports ready, and follows a pool change
 * without a restart. IP is given (198.18.0.11/24, on no interface here), so nothing is detected
 * from the host and no root is needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { TestApiServer } from '../k8s-apiserver/server.js';
import { loadConfig } from '../../src/config/load.js';
import { NodeComponent } from '../../src/agent/node-component.js';
import type { AgentContext } from '../../src/agent/component.js';
import { HealthAggregator } from '../../src/health/aggregator.js';
import { silentLogger } from '../../src/util/log.js';
import type { Update } from '../../src/datastore/syncer.js';
import { waitFor } from '../datastore/k8s-helpers.js';

function kubeconfig(dir: string, server: string): string {
  const path = join(dir, 'kubeconfig');
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'test', user: {} }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'test' } }],
      'current-context': 'test',
    }),
  );
  return path;
}

test('node component on the Kubernetes datastore: writes annotations, pool and tunnel address; follows a pool change', async () => {
  const server = await TestApiServer.start();
  const dir = mkdtempSync(join(tmpdir(), 'tt-node-k8s-'));
  const abort = new AbortController();
  let component: NodeComponent | undefined;
  try {
    server.create('nodes', { metadata: { name: 'node-1', annotations: { 'example.com/owner': 'ops' } } });
    const { config } = loadConfig({
      env: {
        DATASTORE_TYPE: 'kubernetes',
        KUBECONFIG: kubeconfig(dir, server.url),
        NODENAME: 'node-1',
        IP: '198.18.0.11/24',
        AS: '64513',
        CALICO_NETWORKING_BACKEND: 'vxlan',
        CALICO_IPV4POOL_CIDR: '10.65.0.0/16',
        CALICO_IPV4POOL_VXLAN: 'Always',
        CALICO_IPV4POOL_IPIP: 'Never',
      },
    });
    const health = new HealthAggregator();
    const ctx = { config, logger: silentLogger, registry: new Registry(), health, control: undefined as never, signal: abort.signal } satisfies AgentContext;
    component = new NodeComponent(config);
    await component.start(ctx);
    const nodeHealth = () => health.summary().components.find((c) => c.name === 'node');
    await waitFor(() => nodeHealth()?.ready === true, 'the node component to report ready');
    assert.match(nodeHealth()!.detail, /VXLAN tunnel 10\.65\.0\.0/);

    const ann = () => server.get('nodes', undefined, 'node-1')!.metadata.annotations!;
    assert.equal(ann()['projectcalico.org/IPv4Address'], '198.18.0.11/24');
    assert.equal(ann()['projectcalico.org/ASNumber'], '64513');
    assert.equal(ann()['projectcalico.org/IPv4VXLANTunnelAddr'], '10.65.0.0');
    assert.equal(ann()['example.com/owner'], 'ops');
    assert.ok(server.get('ippools.crd.projectcalico.org', undefined, 'default-ipv4-ippool'));

    // The pool stops encapsulating: the tunnel address comes off the Node without a restart.
    server.patch('ippools.crd.projectcalico.org', undefined, 'default-ipv4-ippool', { spec: { vxlanMode: 'Never' } });
    const poolChanged: Update = { type: 'update', kind: 'IPPool', key: 'IPPool/default-ipv4-ippool', revision: '1' } as Update;
    component.onUpdates([poolChanged]);
    await waitFor(() => ann()['projectcalico.org/IPv4VXLANTunnelAddr'] === undefined, 'the VXLAN tunnel annotation to be cleared');
    assert.equal(ann()['projectcalico.org/IPv4Address'], '198.18.0.11/24');
  } finally {
    abort.abort();
    await component?.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

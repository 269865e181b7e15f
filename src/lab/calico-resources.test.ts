import { test } from 'node:test';
import assert from 'node:assert/strict';
import { workloadEndpointSchema } from '../datastore/model/endpoints.js';
import { workloadEndpointResource } from './calico-resources.js';
import { validatePorts } from './pods.js';
import { UserError } from '../util/errors.js';

const base = {
  name: 'node--1-k8s-web-eth0',
  namespace: 'prod',
  node: 'node-1',
  pod: 'web',
  containerId: 'c0ffee',
  ip: '10.65.0.3',
  iface: 'cali0123456789a',
  mac: '02:00:00:00:00:01',
  labels: { app: 'web' },
};

test('WorkloadEndpoint: named ports as the CNI plugin writes them, none when the pod declares none', () => {
  const wep = workloadEndpointResource({ ...base, ports: [{ name: 'http', protocol: 'TCP', port: 80 }] });
  assert.deepEqual(wep.spec.ports, [{ name: 'http', protocol: 'TCP', port: 80 }]);
  // What the agent's own schema makes of it: the port survives validation unchanged.
  const parsed = workloadEndpointSchema.parse(wep);
  assert.deepEqual(parsed.spec.ports, [{ name: 'http', protocol: 'TCP', port: 80 }]);
  assert.equal('ports' in workloadEndpointResource(base).spec, false);
  assert.equal('ports' in workloadEndpointResource({ ...base, ports: [] }).spec, false);
});

test('pod ports: Kubernetes port names and numbers only', () => {
  validatePorts([{ name: 'http', protocol: 'TCP', port: 80 }, { name: 'dns-tcp', protocol: 'UDP', port: 65535 }]);
  for (const bad of [{ name: 'HTTP', port: 80 }, { name: 'a-very-long-port-name', port: 80 }, { name: '-x', port: 80 }, { name: 'http', port: 0 }, { name: 'http', port: 70000 }]) {
    assert.throws(() => validatePorts([{ protocol: 'TCP', ...bad }]), UserError, JSON.stringify(bad));
  }
});

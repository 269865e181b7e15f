/**
 * Every conversion's output must pass the datastore model's own validation: a shape mismatch
 * would make the syncer reject (and so delete) every object of that kind in Kubernetes mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateResource } from '../../model/index.js';
import { podToWorkloadEndpoint } from './pod.js';
import { k8sNodeToCalico } from './node.js';
import { namespaceToProfile, serviceAccountToProfile } from './profile.js';
import { crdToV3 } from './crd.js';

function ok(kind: Parameters<typeof validateResource>[0], value: unknown): void {
  const v = validateResource(kind, value);
  assert.ok(v.ok, `${kind}: ${JSON.stringify(v.ok ? '' : v.problems)}`);
}

test('WorkloadEndpoint with every optional part validates', () => {
  ok(
    'WorkloadEndpoint',
    podToWorkloadEndpoint({
      metadata: {
        name: 'web-0',
        namespace: 'prod',
        uid: 'u',
        resourceVersion: '3',
        creationTimestamp: '2026-01-01T00:00:00Z',
        generateName: 'web-',
        labels: { app: 'web' },
        annotations: {
          'cni.projectcalico.org/containerID': 'abc',
          'cni.projectcalico.org/floatingIPs': '["198.18.9.9"]',
          'cni.projectcalico.org/allowedSourcePrefixes': '["10.9.0.0/16"]',
        },
      },
      spec: {
        nodeName: 'node-1',
        serviceAccountName: 'web',
        containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 80 }, { containerPort: 81, hostPort: 8081 }, { name: 'dns', containerPort: 53, protocol: 'UDP', hostPort: 53, hostIP: '198.18.0.1' }] }],
        initContainers: [{ name: 'i', ports: [{ name: 'sctp', containerPort: 9, protocol: 'SCTP' }] }],
      },
      status: { phase: 'Running', podIPs: [{ ip: '10.65.0.2' }, { ip: 'fd00:65::2' }] },
    }),
  );
});

test('Node with every annotation validates', () => {
  ok(
    'Node',
    k8sNodeToCalico({
      metadata: {
        name: 'node-1',
        labels: { a: 'b' },
        annotations: {
          'projectcalico.org/IPv4Address': '198.18.0.1/24',
          'projectcalico.org/IPv6Address': 'fd00::1/64',
          'projectcalico.org/IPv4IPIPTunnelAddr': '10.65.0.1',
          'projectcalico.org/IPv4VXLANTunnelAddr': '10.65.0.2',
          'projectcalico.org/IPv6VXLANTunnelAddr': 'fd00:65::1',
          'projectcalico.org/VXLANTunnelMACAddr': '66:00:00:00:00:01',
          'projectcalico.org/VXLANTunnelMACAddrV6': '66:00:00:00:00:02',
          'projectcalico.org/ASNumber': '1.10',
          'projectcalico.org/RouteReflectorClusterID': '224.0.0.1',
          'projectcalico.org/WireguardPublicKey': 'k',
          'projectcalico.org/IPv4WireguardInterfaceAddr': '10.65.0.3',
        },
      },
      spec: { podCIDRs: ['10.244.0.0/24'] },
      status: { addresses: [{ type: 'InternalIP', address: '198.18.0.1' }, { type: 'ExternalIP', address: '203.0.113.1' }] },
    }),
  );
});

test('Profiles and CRDs validate', () => {
  ok('Profile', namespaceToProfile({ metadata: { name: 'prod', labels: { team: 'x' } } }));
  ok('Profile', serviceAccountToProfile({ metadata: { name: 'web', namespace: 'prod', labels: { r: 'y' } } }));
  ok('IPPool', crdToV3({ metadata: { name: 'p' }, spec: { cidr: '10.65.0.0/16', vxlanMode: 'Always', natOutgoing: true } }, 'IPPool'));
  ok('BlockAffinity', crdToV3({ metadata: { name: 'node-1-10-65-0-0-26' }, spec: { node: 'node-1', cidr: '10.65.0.0/26', state: 'confirmed', deleted: 'false' } }, 'BlockAffinity'));
  ok(
    'KubernetesNetworkPolicy',
    { ...crdToV3({ metadata: { name: 'np', namespace: 'prod' }, spec: { podSelector: { matchLabels: { a: 'b' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' } }], ports: [{ port: 80 }] }] } }, 'KubernetesNetworkPolicy'), apiVersion: 'networking.k8s.io/v1' },
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasAddresses, isFinished, podIPStrings, podToWorkloadEndpoint, vethNameForWorkload } from './pod.js';
import { ConversionError, type Pod } from './k8stypes.js';

function pod(over: Partial<Pod> & { annotations?: Record<string, string> } = {}): Pod {
  return {
    metadata: { name: 'nginx', namespace: 'default', uid: 'u1', resourceVersion: '7', labels: { app: 'web' }, annotations: over.annotations },
    spec: { nodeName: 'node-1', serviceAccountName: 'sa1', containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 80 }] }], ...over.spec },
    status: { phase: 'Running', podIP: '10.65.0.5', podIPs: [{ ip: '10.65.0.5' }], ...over.status },
    ...(over.metadata ? { metadata: over.metadata } : {}),
  };
}

test('veth name is cali + 11 hex digits of sha1("<ns>.<pod>") (values from sha1sum)', () => {
  assert.equal(vethNameForWorkload('default', 'nginx'), 'calic440f455693');
  assert.equal(vethNameForWorkload('kube-system', 'coredns-7c65d6cfc9-abcde'), 'calice7c7a633ac');
  assert.equal(vethNameForWorkload('default', 'nginx').length, 15);
});

test('a running pod becomes a full WorkloadEndpoint', () => {
  const wep = podToWorkloadEndpoint(pod())!;
  assert.deepEqual(wep, {
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: {
      name: 'node--1-k8s-nginx-eth0',
      namespace: 'default',
      uid: 'u1',
      resourceVersion: '7',
      labels: {
        app: 'web',
        'projectcalico.org/namespace': 'default',
        'projectcalico.org/orchestrator': 'k8s',
        'projectcalico.org/serviceaccount': 'sa1',
      },
    },
    spec: {
      orchestrator: 'k8s',
      node: 'node-1',
      pod: 'nginx',
      endpoint: 'eth0',
      interfaceName: 'calic440f455693',
      profiles: ['kns.default', 'ksa.default.sa1'],
      ipNetworks: ['10.65.0.5/32'],
      serviceAccountName: 'sa1',
      ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
    },
  });
});

test('host-network and unscheduled pods are not endpoints', () => {
  assert.equal(podToWorkloadEndpoint(pod({ spec: { nodeName: 'node-1', hostNetwork: true } })), undefined);
  assert.equal(podToWorkloadEndpoint(pod({ spec: { nodeName: '' } })), undefined);
  assert.equal(podToWorkloadEndpoint({ metadata: { name: 'x', namespace: 'd' } }), undefined);
});

test('finished pods keep their endpoint but lose their IPs', () => {
  for (const phase of ['Succeeded', 'Failed', 'Completed']) {
    const wep = podToWorkloadEndpoint(pod({ status: { phase } }))!;
    assert.deepEqual(wep.spec.ipNetworks, [], phase);
    assert.equal(hasAddresses(wep), false);
  }
  // Being deleted, but the CNI plugin has not torn down the network yet: still owns its IP.
  const terminating = pod();
  terminating.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
  assert.equal(isFinished(terminating), false);
  terminating.metadata.annotations = { 'cni.projectcalico.org/podIP': '' };
  assert.equal(isFinished(terminating), true);
  assert.deepEqual(podToWorkloadEndpoint(terminating)!.spec.ipNetworks, []);
});

test('IP precedence: status.podIPs, then status.podIP, then the CNI annotations', () => {
  const ann = { 'cni.projectcalico.org/podIPs': '10.65.9.1,fd00::9', 'cni.projectcalico.org/podIP': '10.65.9.2' };
  const both = pod({ annotations: ann, status: { podIP: '10.65.0.5', podIPs: [{ ip: '10.65.0.5' }, { ip: 'fd00::5' }] } });
  assert.deepEqual(podIPStrings(both), ['10.65.0.5', 'fd00::5']);
  assert.deepEqual(podToWorkloadEndpoint(both)!.spec.ipNetworks, ['10.65.0.5/32', 'fd00::5/128']);
  assert.deepEqual(podIPStrings(pod({ annotations: ann, status: { podIP: '10.65.0.6', podIPs: [] } })), ['10.65.0.6']);
  assert.deepEqual(podIPStrings(pod({ annotations: ann, status: { podIP: '', podIPs: [] } })), ['10.65.9.1', 'fd00::9']);
  assert.deepEqual(
    podIPStrings(pod({ annotations: { 'cni.projectcalico.org/podIP': '10.65.9.2/32' }, status: { podIP: '', podIPs: [] } })),
    ['10.65.9.2/32'],
  );
  assert.deepEqual(podIPStrings(pod({ status: { podIP: '', podIPs: [] } })), []);
  assert.equal(hasAddresses(podToWorkloadEndpoint(pod({ status: { podIP: '', podIPs: [] } }))!), false);
});

test('a malformed pod IP is a ConversionError naming the pod', () => {
  assert.throws(
    () => podToWorkloadEndpoint(pod({ status: { podIP: '10.65.0.300', podIPs: [] } })),
    (e: unknown) => e instanceof ConversionError && /default\/nginx/.test(e.message) && /10\.65\.0\.300/.test(e.message),
  );
});

test('named ports (with their host ports) from containers and init containers; unknown protocols skipped with a warning', () => {
  const warnings: string[] = [];
  const p = pod({
    spec: {
      nodeName: 'n',
      containers: [
        {
          name: 'c',
          ports: [
            { name: 'dns', containerPort: 53, protocol: 'UDP' },
            { containerPort: 8080 }, // neither name nor hostPort: not kept
            { containerPort: 9000, hostPort: 19000, hostIP: '198.18.0.1' }, // unnamed: not kept (see pod.ts)
            { name: 'metrics', containerPort: 9100, hostPort: 19100, hostIP: '198.18.0.1' },
            { name: 'weird', containerPort: 1, protocol: 'XYZ' },
          ],
        },
      ],
      initContainers: [{ name: 'i', ports: [{ name: 'sctp', containerPort: 7, protocol: 'SCTP' }] }],
    },
  });
  const wep = podToWorkloadEndpoint(p, { warn: (m) => warnings.push(m) })!;
  assert.deepEqual(wep.spec.ports, [
    { name: 'dns', protocol: 'UDP', port: 53 },
    { name: 'metrics', protocol: 'TCP', port: 9100, hostPort: 19100, hostIP: '198.18.0.1' },
    { name: 'sctp', protocol: 'SCTP', port: 7 },
  ]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /XYZ/);
});

test('long service account names get no label but keep the profile', () => {
  const sa = 'x'.repeat(63);
  const wep = podToWorkloadEndpoint(pod({ spec: { nodeName: 'n', serviceAccountName: sa } }))!;
  assert.equal(wep.metadata.labels['projectcalico.org/serviceaccount'], undefined);
  assert.deepEqual(wep.spec.profiles, ['kns.default', `ksa.default.${sa}`]);
});

test('floating IPs map to the pod address of the same family; bad JSON is an error', () => {
  const wep = podToWorkloadEndpoint(pod({ annotations: { 'cni.projectcalico.org/floatingIPs': '["198.18.5.5","2001:db8::1"]' } }))!;
  assert.deepEqual(wep.spec.ipNATs, [{ internalIP: '10.65.0.5', externalIP: '198.18.5.5' }]);
  assert.throws(() => podToWorkloadEndpoint(pod({ annotations: { 'cni.projectcalico.org/floatingIPs': 'nope' } })), ConversionError);
});

test('WEP names double dashes inside each segment', () => {
  const wep = podToWorkloadEndpoint({
    metadata: { name: 'my-pod', namespace: 'ns-a' },
    spec: { nodeName: 'k8s-node-1' },
    status: { podIP: '10.0.0.1' },
  })!;
  assert.equal(wep.metadata.name, 'k8s--node--1-k8s-my--pod-eth0');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { namespaceToProfile, serviceAccountToProfile } from './profile.js';
import { crdToV3 } from './crd.js';
import { ConversionError } from './k8stypes.js';

test('Namespace → kns.<ns> with pcns. labels and allow-all rules', () => {
  assert.deepEqual(namespaceToProfile({ metadata: { name: 'prod', resourceVersion: '5', labels: { team: 'a' } } }), {
    apiVersion: 'projectcalico.org/v3',
    kind: 'Profile',
    metadata: { name: 'kns.prod', resourceVersion: '5' },
    spec: {
      ingress: [{ action: 'Allow' }],
      egress: [{ action: 'Allow' }],
      labelsToApply: { 'pcns.team': 'a', 'pcns.projectcalico.org/name': 'prod' },
    },
  });
});

test('ServiceAccount → ksa.<ns>.<sa> with pcsa. labels and no rules', () => {
  assert.deepEqual(serviceAccountToProfile({ metadata: { name: 'builder', namespace: 'ci', labels: { x: 'y' } } }), {
    apiVersion: 'projectcalico.org/v3',
    kind: 'Profile',
    metadata: { name: 'ksa.ci.builder' },
    spec: { labelsToApply: { 'pcsa.x': 'y', 'pcsa.projectcalico.org/name': 'builder' } },
  });
});

test('CRDs become v3 resources with the same spec; server-managed metadata is dropped', () => {
  const v3 = crdToV3(
    {
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'IPPool',
      metadata: { name: 'p', resourceVersion: '9', managedFields: [{}], generation: 3 } as never,
      spec: { cidr: '10.65.0.0/16', vxlanMode: 'Always' },
    },
    'IPPool',
  );
  assert.deepEqual(v3, {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name: 'p', resourceVersion: '9' },
    spec: { cidr: '10.65.0.0/16', vxlanMode: 'Always' },
  });
  assert.throws(() => crdToV3({ metadata: { name: 'x' }, spec: 'nope' }, 'IPPool'), ConversionError);
});

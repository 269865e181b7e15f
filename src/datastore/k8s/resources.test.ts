/**
 * Malformed API objects (fields of the wrong JSON type) never make a conversion throw: each
 * becomes a decode-error item, an absence or a skip, so one bad object cannot wedge a watch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RESOURCE_KINDS } from '../model/index.js';
import type { K8sObject } from './conversion/k8stypes.js';
import { SOURCES, type ConvertContext } from './resources.js';

const GARBAGE: unknown[] = [null, 7, 'x', [], {}, { a: 1 }, [1, 2], true];

function variants(): K8sObject[] {
  const out: K8sObject[] = [];
  for (const g of GARBAGE) {
    out.push({ metadata: { name: 'm', namespace: 'n', resourceVersion: '1' }, spec: g } as K8sObject);
    out.push({ metadata: { name: 'm', namespace: 'n', resourceVersion: '1', labels: g, annotations: g } as never, spec: { nodeName: 'node-1' } });
    out.push({ metadata: { name: 'm', namespace: 'n', resourceVersion: '1' }, spec: { nodeName: 'node-1', containers: g, initContainers: [g] }, status: g } as K8sObject);
    out.push({ metadata: { name: 'm', namespace: 'n', resourceVersion: '1' }, spec: { nodeName: 'node-1' }, status: { podIPs: g, podIP: g, phase: g } } as K8sObject);
    out.push({ metadata: { name: 'm', resourceVersion: '1', annotations: { 'cni.projectcalico.org/podIPs': 'zz', 'projectcalico.org/IPv4Address': 'zz', 'projectcalico.org/labels': '[' } }, spec: { nodeName: 'node-1', podCIDRs: g }, status: { addresses: g } } as K8sObject);
  }
  return out;
}

test('every source survives malformed objects', () => {
  for (const kind of RESOURCE_KINDS) {
    const ctx: ConvertContext = { nodeName: 'node-1', scope: { kind }, warn: () => undefined };
    for (const source of SOURCES[kind]) {
      for (const obj of variants()) {
        const c = source.convert(obj, ctx);
        assert.ok(['item', 'absent', 'skip'].includes(c.type), `${kind}`);
        if (c.type === 'item') assert.ok(c.item.value !== undefined || typeof c.item.decodeError === 'string');
      }
    }
  }
});

test('a pod whose status.podIPs is not a list is a decode error naming the endpoint', () => {
  const c = SOURCES.WorkloadEndpoint[0].convert(
    { metadata: { name: 'p', namespace: 'n', resourceVersion: '4' }, spec: { nodeName: 'node-1' }, status: { podIPs: 'oops' } } as unknown as K8sObject,
    { nodeName: 'node-1', scope: { kind: 'WorkloadEndpoint' }, warn: () => undefined },
  );
  assert.equal(c.type, 'item');
  assert.match((c as { item: { decodeError?: string } }).item.decodeError ?? '', /WorkloadEndpoint\/n\/node--1-k8s-p-eth0/);
});

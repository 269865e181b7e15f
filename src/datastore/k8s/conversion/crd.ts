/**
 * Calico CRDs (crd.projectcalico.org/v1) → v3 resources. The CRDs carry the same spec as the v3
 * API, so conversion is a change of apiVersion and a trim of server-managed metadata. IPAMBlock
 * and BlockAffinity stay in their CRD shape, which is the shape the datastore model uses for IPAM
 * in both backends (names `10-0-0-0-26` and `<node>-10-0-0-0-26`).
 */
import { V3_API_VERSION } from './constants.js';
import { ConversionError, type K8sObject } from './k8stypes.js';

export type V3Resource = {
  apiVersion: typeof V3_API_VERSION;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: Record<string, unknown>;
};

/** Metadata fields worth keeping; managedFields, generation, finalizers etc. are the server's. */
const KEPT_METADATA = ['name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp', 'labels', 'annotations'] as const;

export function crdToV3(obj: K8sObject, kind: string): V3Resource {
  if (!obj.metadata?.name) throw new ConversionError(kind, '?', 'metadata.name is missing');
  const spec = obj.spec;
  if (spec !== undefined && (spec === null || typeof spec !== 'object' || Array.isArray(spec))) {
    throw new ConversionError(kind, obj.metadata.name, 'spec is not an object');
  }
  const metadata: V3Resource['metadata'] = { name: obj.metadata.name };
  for (const k of KEPT_METADATA) {
    const v = obj.metadata[k];
    if (v !== undefined && v !== null) (metadata as Record<string, unknown>)[k] = structuredClone(v);
  }
  const out: V3Resource = {
    apiVersion: V3_API_VERSION,
    kind,
    metadata,
    spec: structuredClone((spec as Record<string, unknown> | undefined) ?? {}),
  };
  return out;
}

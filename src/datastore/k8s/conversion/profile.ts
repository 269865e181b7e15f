/**
 * Namespace → Profile `kns.<ns>` and ServiceAccount → Profile `ksa.<ns>.<sa>`
 * (libcalico-go k8s/conversion NamespaceToProfile / ServiceAccountToProfile). The profile carries
 * the object's labels, prefixed `pcns.` / `pcsa.`, as labels its endpoints inherit, plus the
 * object's own name under `<prefix>projectcalico.org/name`, so policies can select by namespace
 * or service account. A namespace profile also allows all traffic, as Calico's does (it is the
 * last thing an endpoint's chain consults when no policy applies).
 */
import {
  NAME_LABEL,
  NAMESPACE_LABEL_PREFIX,
  NAMESPACE_PROFILE_PREFIX,
  SERVICE_ACCOUNT_LABEL_PREFIX,
  SERVICE_ACCOUNT_PROFILE_PREFIX,
  V3_API_VERSION,
} from './constants.js';
import type { Namespace, ServiceAccount } from './k8stypes.js';

export type ProfileResource = {
  apiVersion: typeof V3_API_VERSION;
  kind: 'Profile';
  metadata: { name: string; uid?: string; resourceVersion?: string; creationTimestamp?: string };
  spec: {
    ingress?: Array<{ action: 'Allow' }>;
    egress?: Array<{ action: 'Allow' }>;
    labelsToApply: Record<string, string>;
  };
};

export function namespaceProfileName(ns: string): string {
  return `${NAMESPACE_PROFILE_PREFIX}${ns}`;
}

export function serviceAccountProfileName(ns: string, sa: string): string {
  return `${SERVICE_ACCOUNT_PROFILE_PREFIX}${ns || 'default'}.${sa}`;
}

function prefixed(prefix: string, labels: Record<string, string> | undefined, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) out[prefix + k] = v;
  out[prefix + NAME_LABEL] = name;
  return out;
}

function meta(name: string, src: Namespace): ProfileResource['metadata'] {
  const m: ProfileResource['metadata'] = { name };
  if (src.metadata.uid) m.uid = src.metadata.uid;
  if (src.metadata.resourceVersion) m.resourceVersion = src.metadata.resourceVersion;
  if (src.metadata.creationTimestamp) m.creationTimestamp = src.metadata.creationTimestamp;
  return m;
}

export function namespaceToProfile(ns: Namespace): ProfileResource {
  const name = namespaceProfileName(ns.metadata.name);
  return {
    apiVersion: V3_API_VERSION,
    kind: 'Profile',
    metadata: meta(name, ns),
    spec: {
      ingress: [{ action: 'Allow' }],
      egress: [{ action: 'Allow' }],
      labelsToApply: prefixed(NAMESPACE_LABEL_PREFIX, ns.metadata.labels, ns.metadata.name),
    },
  };
}

export function serviceAccountToProfile(sa: ServiceAccount): ProfileResource {
  const name = serviceAccountProfileName(sa.metadata.namespace ?? 'default', sa.metadata.name);
  return {
    apiVersion: V3_API_VERSION,
    kind: 'Profile',
    metadata: meta(name, sa),
    spec: { labelsToApply: prefixed(SERVICE_ACCOUNT_LABEL_PREFIX, sa.metadata.labels, sa.metadata.name) },
  };
}

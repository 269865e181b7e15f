/**
 * BGP passwords in Kubernetes mode: `BGPPeer.spec.password.secretKeyRef` names a key of a Secret
 * in calico-node's own namespace. calico-node may read only those Secrets (a namespaced Role, not
 * cluster-wide secrets access), so this is a plain GET of one Secret, never a list or a watch;
 * the routing code re-reads it when the BGPPeer changes.
 */
import { K8sApiError, type KubeClient } from './client.js';

export class SecretError extends Error {
  readonly code = 'E_K8S_SECRET';
  constructor(message: string) {
    super(message);
    this.name = 'SecretError';
  }
}

/**
 * Reads `data[key]` of Secret `namespace/name`, decoded from base64. Rejects with a SecretError
 * that says what to fix (missing secret, missing key, no permission).
 */
export async function readSecretKey(client: KubeClient, namespace: string, name: string, key: string): Promise<string> {
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`;
  let secret: unknown;
  try {
    secret = await client.request('GET', path);
  } catch (e) {
    if (e instanceof K8sApiError && e.status === 404) throw new SecretError(`secret ${namespace}/${name} does not exist (referenced as a BGP password)`);
    if (e instanceof K8sApiError && e.status === 403) {
      throw new SecretError(`not allowed to read secret ${namespace}/${name}: grant tortie's service account "get" on it with a Role in ${namespace}`);
    }
    throw e;
  }
  const data = (secret as { data?: Record<string, unknown> } | undefined)?.data;
  const v = data?.[key];
  if (typeof v !== 'string') throw new SecretError(`secret ${namespace}/${name} has no key ${JSON.stringify(key)}`);
  return Buffer.from(v, 'base64').toString('utf8');
}

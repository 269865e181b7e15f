/**
 * Public entry of the Kubernetes datastore: build a backend from KUBECONFIG (or the in-cluster
 * service account) for this node, plus the pieces other areas use directly (BGP secrets, the
 * conversions for tools).
 */
import type { Logger } from '../../util/log.js';
import { K8sBackend, type K8sBackendOptions } from './backend.js';
import { KubeClient } from './client.js';
import { loadKubeAuth } from './kubeconfig.js';

export { K8sBackend, toDatastoreError, wireEventToBackendEvents } from './backend.js';
export type { K8sBackendOptions } from './backend.js';
export { KubeClient, K8sApiError } from './client.js';
export { loadKubeAuth, anonymousAuth } from './kubeconfig.js';
export type { KubeAuth } from './kubeconfig.js';
export { readSecretKey, SecretError } from './secrets.js';
export { setNetworkUnavailable } from './nodestatus.js';
export { podToWorkloadEndpoint, vethNameForWorkload, isFinished, podIPStrings } from './conversion/pod.js';
export { k8sNodeToCalico } from './conversion/node.js';
export { namespaceToProfile, serviceAccountToProfile } from './conversion/profile.js';
export { crdToV3 } from './conversion/crd.js';
export {
  kubernetesNetworkPolicyToCalico,
  kubernetesNetworkPolicyAsNetworkPolicy,
  k8sSelectorToCalico,
  knpPolicyName,
  convertUid,
} from './conversion/networkpolicy.js';
export type { CalicoNetworkPolicyResource, CalicoRule, CalicoEntityRule, KubernetesNetworkPolicyConversion } from './conversion/networkpolicy.js';

/**
 * The backend calico-node would use with DATASTORE_TYPE=kubernetes: credentials from
 * `kubeconfig` (KUBECONFIG) or the in-cluster service account; Pods watched for `nodeName` only.
 * Rejects with a UserError when the credentials cannot be loaded.
 */
export async function createKubernetesBackend(opts: {
  kubeconfig?: string;
  nodeName: string;
  logger?: Logger;
  interfacePrefix?: string;
  onWarning?: K8sBackendOptions['onWarning'];
}): Promise<K8sBackend> {
  const auth = await loadKubeAuth(opts.kubeconfig);
  opts.logger?.info({ server: auth.server, credentials: auth.source, node: opts.nodeName }, 'Kubernetes datastore');
  return new K8sBackend({
    client: new KubeClient(auth),
    nodeName: opts.nodeName,
    logger: opts.logger,
    interfacePrefix: opts.interfacePrefix,
    onWarning: opts.onWarning,
  });
}

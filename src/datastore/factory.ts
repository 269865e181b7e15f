/**
 * Opens the datastore backend calico-node's environment asks for: DATASTORE_TYPE=etcdv3 (with
 * ETCD_ENDPOINTS and the ETCD_* TLS files) or kubernetes (KUBECONFIG or in-cluster). One place
 * for the agent and the CLI, so both read the same variables the same way.
 */
import { UserError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { EtcdBackend } from './etcd/backend.js';
import { etcdConfigFromEnv, type EtcdConfig } from './etcd/options.js';
import type { DatastoreBackend } from './types.js';

export type DatastoreType = 'etcdv3' | 'kubernetes';

export function datastoreTypeFromEnv(env: NodeJS.ProcessEnv = process.env): DatastoreType {
  const t = (env.DATASTORE_TYPE ?? 'etcdv3').trim().toLowerCase();
  if (t === 'etcdv3' || t === 'etcd') return 'etcdv3';
  if (t === 'kubernetes' || t === 'kdd') return 'kubernetes';
  throw new UserError(`DATASTORE_TYPE=${JSON.stringify(env.DATASTORE_TYPE)} is not supported: use etcdv3 or kubernetes`);
}

export interface OpenBackendOptions {
  type: DatastoreType;
  /** etcd settings; default from the environment. */
  etcd?: EtcdConfig;
  kubeconfig?: string;
  nodeName?: string;
  logger?: Logger;
}

export async function openBackend(opts: OpenBackendOptions): Promise<DatastoreBackend> {
  if (opts.type === 'etcdv3') return new EtcdBackend({ config: opts.etcd ?? etcdConfigFromEnv(), logger: opts.logger });
  // Loaded lazily: the Kubernetes client code is only needed in that mode.
  const [{ K8sBackend }, { loadKubeAuth }] = await Promise.all([import('./k8s/backend.js'), import('./k8s/kubeconfig.js')]);
  return new K8sBackend({ auth: await loadKubeAuth(opts.kubeconfig ?? process.env.KUBECONFIG), nodeName: opts.nodeName, logger: opts.logger });
}

/**
 * Calico's etcd v3 key layout (libcalico-go/lib/backend/model). Shared by the etcd backend, the
 * lab (which plays Calico's CNI/IPAM and writes these keys) and the CLI.
 */

export const RESOURCE_PREFIX = '/calico/resources/v3/projectcalico.org/';
export const IPAM_PREFIX = '/calico/ipam/v2/';

/** Cluster-scoped resource: /calico/resources/v3/projectcalico.org/<plural>/<name>. */
export function resourceKey(plural: string, name: string, namespace?: string): string {
  return namespace ? `${RESOURCE_PREFIX}${plural}/${namespace}/${name}` : `${RESOURCE_PREFIX}${plural}/${name}`;
}

/** IPAM block: /calico/ipam/v2/assignment/ipv4/block/10.0.0.0-26. */
export function ipamBlockKey(cidr: string): string {
  const v = cidr.includes(':') ? 'ipv6' : 'ipv4';
  return `${IPAM_PREFIX}assignment/${v}/block/${cidr.replace('/', '-')}`;
}

/** Block affinity: /calico/ipam/v2/host/<node>/ipv4/block/10.0.0.0-26. */
export function blockAffinityKey(node: string, cidr: string): string {
  const v = cidr.includes(':') ? 'ipv6' : 'ipv4';
  return `${IPAM_PREFIX}host/${node}/${v}/block/${cidr.replace('/', '-')}`;
}

/** IPAM handle: /calico/ipam/v2/handle/<id>. */
export function ipamHandleKey(handleId: string): string {
  return `${IPAM_PREFIX}handle/${handleId}`;
}

/**
 * WorkloadEndpoint name as Calico builds it: `<node>-k8s-<pod>-<endpoint>`, with every '-' inside
 * a segment doubled so the separators stay unambiguous.
 */
export function workloadEndpointName(node: string, orchestrator: string, workload: string, endpoint: string): string {
  const esc = (s: string) => s.replace(/-/g, '--');
  return [node, orchestrator, workload, endpoint].map(esc).join('-');
}

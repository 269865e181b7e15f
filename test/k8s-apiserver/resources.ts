/**
 * The resource types the test API server serves, and the discovery documents built from them.
 * A resource is named the way kubectl names it: `pods`, `networkpolicies.networking.k8s.io`,
 * `ippools.crd.projectcalico.org`.
 */

export type ResourceType = {
  group: string; // '' = core
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  /** Has a /status subresource. */
  status?: boolean;
};

export const CALICO_GROUP = 'crd.projectcalico.org';

const core = (plural: string, kind: string, namespaced: boolean, extra: Partial<ResourceType> = {}): ResourceType => ({
  group: '',
  version: 'v1',
  plural,
  singular: kind.toLowerCase(),
  kind,
  namespaced,
  ...extra,
});

const calico = (plural: string, kind: string, namespaced = false): ResourceType => ({
  group: CALICO_GROUP,
  version: 'v1',
  plural,
  singular: kind.toLowerCase(),
  kind,
  namespaced,
});

export const RESOURCE_TYPES: ResourceType[] = [
  core('pods', 'Pod', true, { shortNames: ['po'], status: true }),
  core('nodes', 'Node', false, { shortNames: ['no'], status: true }),
  core('namespaces', 'Namespace', false, { shortNames: ['ns'], status: true }),
  core('serviceaccounts', 'ServiceAccount', true, { shortNames: ['sa'] }),
  core('secrets', 'Secret', true),
  core('configmaps', 'ConfigMap', true, { shortNames: ['cm'] }),
  {
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'networkpolicies',
    singular: 'networkpolicy',
    kind: 'NetworkPolicy',
    namespaced: true,
    shortNames: ['netpol'],
  },
  calico('ippools', 'IPPool'),
  calico('ipreservations', 'IPReservation'),
  calico('bgpconfigurations', 'BGPConfiguration'),
  calico('bgppeers', 'BGPPeer'),
  calico('bgpfilters', 'BGPFilter'),
  calico('felixconfigurations', 'FelixConfiguration'),
  calico('clusterinformations', 'ClusterInformation'),
  calico('globalnetworkpolicies', 'GlobalNetworkPolicy'),
  calico('networkpolicies', 'NetworkPolicy', true),
  calico('globalnetworksets', 'GlobalNetworkSet'),
  calico('networksets', 'NetworkSet', true),
  calico('hostendpoints', 'HostEndpoint'),
  calico('ipamblocks', 'IPAMBlock'),
  calico('blockaffinities', 'BlockAffinity'),
  calico('ipamhandles', 'IPAMHandle'),
  calico('ipamconfigs', 'IPAMConfig'),
  calico('tiers', 'Tier'),
  calico('kubecontrollersconfigurations', 'KubeControllersConfiguration'),
];

/** kubectl-style name: `pods`, `ippools.crd.projectcalico.org`. */
export function resourceName(t: ResourceType): string {
  return t.group ? `${t.plural}.${t.group}` : t.plural;
}

export function apiVersionOf(t: ResourceType): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

export function findType(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.group === group && t.version === version && t.plural === plural);
}

export function typeByName(name: string): ResourceType {
  const t = RESOURCE_TYPES.find((r) => resourceName(r) === name);
  if (!t) throw new Error(`test API server: unknown resource ${name}`);
  return t;
}

const VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];

export function apiVersionsDoc(serverAddress: string): object {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

export function apiGroupListDoc(): object {
  const groups = [...new Set(RESOURCE_TYPES.filter((t) => t.group).map((t) => t.group))];
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: groups.map((name) => {
      const gv = { groupVersion: `${name}/v1`, version: 'v1' };
      return { name, versions: [gv], preferredVersion: gv };
    }),
  };
}

export function apiResourceListDoc(group: string, version: string): object | undefined {
  const types = RESOURCE_TYPES.filter((t) => t.group === group && t.version === version);
  if (!types.length) return undefined;
  const resources: object[] = [];
  for (const t of types) {
    resources.push({
      name: t.plural,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: VERBS,
      ...(t.shortNames ? { shortNames: t.shortNames } : {}),
    });
    if (t.status) {
      resources.push({ name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}

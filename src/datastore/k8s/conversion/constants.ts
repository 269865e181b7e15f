/**
 * Names Calico's Kubernetes datastore uses for annotations, labels and derived resource names
 * (libcalico-go/lib/backend/k8s/conversion/constants.go and resources/node.go). They are part of
 * the on-cluster contract: a calico-node, the CNI plugin and tortie all read the same annotations.
 */

export const V3_API_VERSION = 'projectcalico.org/v3';
export const ORCHESTRATOR_K8S = 'k8s';

/** Profile names derived from Namespaces and ServiceAccounts. */
export const NAMESPACE_PROFILE_PREFIX = 'kns.';
export const SERVICE_ACCOUNT_PROFILE_PREFIX = 'ksa.';
/** Label prefixes a Profile applies to its endpoints (`pcns.<label>` / `pcsa.<label>`). */
export const NAMESPACE_LABEL_PREFIX = 'pcns.';
export const SERVICE_ACCOUNT_LABEL_PREFIX = 'pcsa.';
/** The extra label carrying the Namespace / ServiceAccount name itself. */
export const NAME_LABEL = 'projectcalico.org/name';

/** Labels added to every WorkloadEndpoint built from a Pod. */
export const LABEL_NAMESPACE = 'projectcalico.org/namespace';
export const LABEL_ORCHESTRATOR = 'projectcalico.org/orchestrator';
export const LABEL_SERVICE_ACCOUNT = 'projectcalico.org/serviceaccount';
/** Calico adds the service-account label only below this length (a label value holds 63 chars). */
export const SERVICE_ACCOUNT_LABEL_MAX = 63;

/** Pod annotations written by the Calico CNI plugin. */
export const ANNOTATION_POD_IP = 'cni.projectcalico.org/podIP';
export const ANNOTATION_POD_IPS = 'cni.projectcalico.org/podIPs';
export const ANNOTATION_CONTAINER_ID = 'cni.projectcalico.org/containerID';
export const ANNOTATION_FLOATING_IPS = 'cni.projectcalico.org/floatingIPs';
export const ANNOTATION_SOURCE_PREFIXES = 'cni.projectcalico.org/allowedSourcePrefixes';
/** AWS VPC CNI's pod IP annotation, which Calico also honours. */
export const ANNOTATION_AWS_POD_IPS = 'vpc.amazonaws.com/pod-ips';

/** Node annotations carrying the Calico Node spec in Kubernetes mode. */
export const NODE_ANNOTATIONS = {
  ipv4Address: 'projectcalico.org/IPv4Address',
  ipv6Address: 'projectcalico.org/IPv6Address',
  ipv4IPIPTunnelAddr: 'projectcalico.org/IPv4IPIPTunnelAddr',
  ipv4VXLANTunnelAddr: 'projectcalico.org/IPv4VXLANTunnelAddr',
  ipv6VXLANTunnelAddr: 'projectcalico.org/IPv6VXLANTunnelAddr',
  vxlanTunnelMACAddr: 'projectcalico.org/VXLANTunnelMACAddr',
  vxlanTunnelMACAddrV6: 'projectcalico.org/VXLANTunnelMACAddrV6',
  asNumber: 'projectcalico.org/ASNumber',
  routeReflectorClusterID: 'projectcalico.org/RouteReflectorClusterID',
  wireguardPublicKey: 'projectcalico.org/WireguardPublicKey',
  wireguardPublicKeyV6: 'projectcalico.org/WireguardPublicKeyV6',
  wireguardIPv4Address: 'projectcalico.org/IPv4WireguardInterfaceAddr',
  wireguardIPv6Address: 'projectcalico.org/IPv6WireguardInterfaceAddr',
} as const;

/** Calico-only labels of a Node, as JSON, kept apart from the Kubernetes labels. */
export const CALICO_LABELS_ANNOTATION = 'projectcalico.org/labels';

/**
 * Kubernetes NetworkPolicy → Calico NetworkPolicy (libcalico-go/lib/names/policy.go and
 * k8s/conversion/conversion.go): the Calico policy is named `knp.default.<name>`, lives in the
 * default tier and is ordered at 1000, after any Calico policy with a lower order in that tier.
 */
export const K8S_NETWORK_POLICY_NAME_PREFIX = 'knp.default.';
export const DEFAULT_TIER = 'default';
export const K8S_NETWORK_POLICY_ORDER = 1000;

/**
 * Calico resources exactly as calicoctl / calico-node store them in etcd v3: written by hand from
 * Calico's documentation and libcalico-go's model (v3 resource JSON under
 * /calico/resources/v3/projectcalico.org/, IPAM backend-model JSON under /calico/ipam/v2/), NOT
 * produced by tortie's own code, so the tests check tortie against Calico's format.
 */
const R = '/calico/resources/v3/projectcalico.org';
const TS = '"creationTimestamp":"2026-01-02T03:04:05Z"';

export const FIXTURES: [key: string, value: string][] = [
  [`${R}/ippools/default-ipv4-ippool`, `{"kind":"IPPool","apiVersion":"projectcalico.org/v3","metadata":{"name":"default-ipv4-ippool","uid":"5f0e9a4c-1d2b-4b8e-9a51-0c8d7f6e5a41",${TS}},"spec":{"cidr":"10.65.0.0/16","vxlanMode":"Never","ipipMode":"Always","natOutgoing":true,"blockSize":26,"nodeSelector":"all()","allowedUses":["Workload","Tunnel"]}}`],
  [`${R}/ippools/vxlan-pool`, `{"kind":"IPPool","apiVersion":"projectcalico.org/v3","metadata":{"name":"vxlan-pool",${TS}},"spec":{"cidr":"10.66.0.0/16","vxlanMode":"CrossSubnet","ipipMode":"Never","natOutgoing":false,"nodeSelector":"zone == 'a'"}}`],
  [`${R}/nodes/node-1`, `{"kind":"Node","apiVersion":"projectcalico.org/v3","metadata":{"name":"node-1","labels":{"kubernetes.io/hostname":"node-1","zone":"a"},${TS}},"spec":{"bgp":{"ipv4Address":"198.18.1.1/24","ipv4IPIPTunnelAddr":"10.65.1.1"},"orchRefs":[{"nodeName":"node-1","orchestrator":"k8s"}]},"status":{}}`],
  [`${R}/nodes/node-2`, `{"kind":"Node","apiVersion":"projectcalico.org/v3","metadata":{"name":"node-2",${TS}},"spec":{"bgp":{"ipv4Address":"198.18.1.2/24","asNumber":65002,"routeReflectorClusterID":"224.0.0.1"},"ipv4VXLANTunnelAddr":"10.66.2.0","vxlanTunnelMACAddr":"66:2e:0d:8c:1f:30"},"status":{}}`],
  [`${R}/bgpconfigurations/default`, `{"kind":"BGPConfiguration","apiVersion":"projectcalico.org/v3","metadata":{"name":"default",${TS}},"spec":{"logSeverityScreen":"Info","nodeToNodeMeshEnabled":false,"asNumber":64512,"serviceClusterIPs":[{"cidr":"10.96.0.0/12"}]}}`],
  [`${R}/bgppeers/rack-tor`, `{"kind":"BGPPeer","apiVersion":"projectcalico.org/v3","metadata":{"name":"rack-tor",${TS}},"spec":{"peerIP":"198.18.1.254","asNumber":64513,"nodeSelector":"zone == 'a'"}}`],
  [`${R}/bgppeers/to-rr`, `{"kind":"BGPPeer","apiVersion":"projectcalico.org/v3","metadata":{"name":"to-rr",${TS}},"spec":{"peerSelector":"has(route-reflector)","nodeSelector":"!has(route-reflector)"}}`],
  [`${R}/workloadendpoints/default/node--1-k8s-web--0-eth0`, `{"kind":"WorkloadEndpoint","apiVersion":"projectcalico.org/v3","metadata":{"name":"node--1-k8s-web--0-eth0","namespace":"default","labels":{"app":"web","projectcalico.org/namespace":"default","projectcalico.org/orchestrator":"k8s","projectcalico.org/serviceaccount":"default"},${TS}},"spec":{"orchestrator":"k8s","node":"node-1","containerID":"0f4c2b8e","pod":"web-0","endpoint":"eth0","serviceAccountName":"default","ipNetworks":["10.65.1.2/32"],"profiles":["kns.default","ksa.default.default"],"interfaceName":"cali4b1d7e2c9a0","mac":"2a:6f:1c:3b:4d:5e","ports":[{"name":"http","protocol":"TCP","port":8080,"hostPort":0,"hostIP":""}]}}`],
  [`${R}/workloadendpoints/kube-system/node--2-k8s-coredns--abc-eth0`, `{"kind":"WorkloadEndpoint","apiVersion":"projectcalico.org/v3","metadata":{"name":"node--2-k8s-coredns--abc-eth0","namespace":"kube-system",${TS}},"spec":{"orchestrator":"k8s","node":"node-2","pod":"coredns-abc","endpoint":"eth0","ipNetworks":["10.66.2.5/32"],"profiles":["kns.kube-system"],"interfaceName":"cali0d3a5f7b2c1"}}`],
  [`${R}/hostendpoints/node-1-eth0`, `{"kind":"HostEndpoint","apiVersion":"projectcalico.org/v3","metadata":{"name":"node-1-eth0","labels":{"role":"node"},${TS}},"spec":{"node":"node-1","interfaceName":"eth0","expectedIPs":["198.18.1.1"]}}`],
  [`${R}/profiles/kns.default`, `{"kind":"Profile","apiVersion":"projectcalico.org/v3","metadata":{"name":"kns.default",${TS}},"spec":{"ingress":[{"action":"Allow","source":{},"destination":{}}],"egress":[{"action":"Allow","source":{},"destination":{}}],"labelsToApply":{"pcns.projectcalico.org/name":"default"}}}`],
  [`${R}/tiers/default`, `{"kind":"Tier","apiVersion":"projectcalico.org/v3","metadata":{"name":"default",${TS}},"spec":{"order":1000000}}`],
  [`${R}/networkpolicies/default/default.allow-web`, `{"kind":"NetworkPolicy","apiVersion":"projectcalico.org/v3","metadata":{"name":"default.allow-web","namespace":"default",${TS}},"spec":{"tier":"default","order":100,"selector":"app == 'web'","types":["Ingress"],"ingress":[{"action":"Allow","protocol":"TCP","source":{"selector":"role == 'frontend'"},"destination":{"ports":[8080]}}]}}`],
  [`${R}/globalnetworkpolicies/default.deny-all`, `{"kind":"GlobalNetworkPolicy","apiVersion":"projectcalico.org/v3","metadata":{"name":"default.deny-all",${TS}},"spec":{"tier":"default","order":2000,"selector":"projectcalico.org/namespace != 'kube-system'","types":["Ingress","Egress"],"egress":[{"action":"Allow","protocol":"UDP","destination":{"selector":"k8s-app == 'kube-dns'","ports":[53]}}]}}`],
  [`${R}/networksets/default/partners`, `{"kind":"NetworkSet","apiVersion":"projectcalico.org/v3","metadata":{"name":"partners","namespace":"default","labels":{"role":"partner"},${TS}},"spec":{"nets":["203.0.113.0/24"]}}`],
  [`${R}/globalnetworksets/blocklist`, `{"kind":"GlobalNetworkSet","apiVersion":"projectcalico.org/v3","metadata":{"name":"blocklist",${TS}},"spec":{"nets":["192.0.2.0/24","2001:db8::/32"]}}`],
  [`${R}/felixconfigurations/default`, `{"kind":"FelixConfiguration","apiVersion":"projectcalico.org/v3","metadata":{"name":"default",${TS}},"spec":{"bpfLogLevel":"","floatingIPs":"Disabled","logSeverityScreen":"Info","reportingInterval":"0s","vxlanVNI":4096}}`],
  [`${R}/clusterinformations/default`, `{"kind":"ClusterInformation","apiVersion":"projectcalico.org/v3","metadata":{"name":"default",${TS}},"spec":{"clusterGUID":"8c1f0e2d7b6a4c3e9f5d1a2b3c4d5e6f","clusterType":"k8s,bgp,kubeadm,kdd","calicoVersion":"v3.29.1","datastoreReady":true}}`],
  ['/calico/ipam/v2/assignment/ipv4/block/10.65.1.0-26', '{"cidr":"10.65.1.0/26","affinity":"host:node-1","allocations":[0,null,1,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null],"unallocated":[1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63],"attributes":[{"handle_id":"ipip-tunnel-addr-node-1","secondary":{"node":"node-1","type":"ipipTunnelAddress"}},{"handle_id":"k8s-pod-network.0f4c2b8e","secondary":{"namespace":"default","node":"node-1","pod":"web-0","timestamp":"2026-01-02 03:04:05.123 +0000 UTC"}}],"sequenceNumber":2,"sequenceNumberForAllocation":{"0":0,"2":1},"deleted":false}'],
  ['/calico/ipam/v2/assignment/ipv4/block/10.66.2.0-26', '{"cidr":"10.66.2.0/26","affinity":"host:node-2","allocations":[],"unallocated":[],"attributes":[],"deleted":false}'],
  ['/calico/ipam/v2/host/node-1/ipv4/block/10.65.1.0-26', '{"state":"confirmed","deleted":false}'],
  ['/calico/ipam/v2/host/node-2/ipv4/block/10.66.2.0-26', '{"state":"confirmed","deleted":false}'],
];

/** Canonical keys the felix syncer must report for FIXTURES (everything except BlockAffinity and BGPPeer). */
export const FELIX_KEYS = [
  'IPPool/default-ipv4-ippool',
  'IPPool/vxlan-pool',
  'Node/node-1',
  'Node/node-2',
  'BGPConfiguration/default',
  'WorkloadEndpoint/default/node--1-k8s-web--0-eth0',
  'WorkloadEndpoint/kube-system/node--2-k8s-coredns--abc-eth0',
  'HostEndpoint/node-1-eth0',
  'Profile/kns.default',
  'Tier/default',
  'NetworkPolicy/default/default.allow-web',
  'GlobalNetworkPolicy/default.deny-all',
  'NetworkSet/default/partners',
  'GlobalNetworkSet/blocklist',
  'FelixConfiguration/default',
  'ClusterInformation/default',
  'IPAMBlock/10-65-1-0-26',
  'IPAMBlock/10-66-2-0-26',
].sort();

/** What the BGP syncer for node-1 must report: pools, BGP config, nodes, peers, node-1's affinity only. */
export const BGP_NODE1_KEYS = [
  'IPPool/default-ipv4-ippool',
  'IPPool/vxlan-pool',
  'Node/node-1',
  'Node/node-2',
  'BGPConfiguration/default',
  'BGPPeer/rack-tor',
  'BGPPeer/to-rr',
  'BlockAffinity/node-1-10-65-1-0-26',
].sort();

/**
 * The lab as a library: a multi-node virtual cluster in network namespaces with a real etcd and
 * an optional BIRD peer, for integration tests, benchmarks, the demo and `tortie lab`.
 */
export { labUp, type LabUpOptions, type BirdPeerOptions } from './up.js';
export { labDown, sweepStale, sweepAll, type LabDownResult } from './teardown.js';
export { requireRoot } from './root.js';
export {
  withLab, podAdd, podDel, agentStart, agentStartAll, agentStop, agentRestart, etcdStop, etcdStart, labExec, labStatus, resolveTarget, loadLab,
  type LabStatus,
} from './lab.js';
export { type LabState, type NodeState, type PodState, type AgentState, type EtcdState, type BirdState, labDir, DEFAULT_LAB_DIR } from './state.js';
export { startEtcd, etcdctlArgv, etcdHealth, type EtcdHandle, type StartEtcdOptions } from './etcd.js';
export { birdConfig, birdcArgv, startBird, DEFAULT_BIRD_AS, type BirdConfigOptions, type BirdNeighbor, type BirdHandle, type StartBirdOptions } from './bird.js';
export { labEtcdClient, withEtcd } from './datastore.js';
export { tortieArgv, AGENT_HEALTH_PORT, type AgentStartOptions } from './agent.js';
export { type PodAddOptions, parseLabels } from './pods.js';
export { type EndpointPort } from './calico-resources.js';
export { run, spawnDaemon, stopProcess, waitFor, mapLimit, isRunning, CommandError, WaitTimeoutError, type RunOptions, type RunResult } from './exec.js';
export { runIn, inNetns, ipIn, netnsAdd, netnsDelete, netnsExists, netnsList, netnsPids } from './netns.js';
export {
  startTcpServer, tcpConnect, udpExchange, icmpPing, parsePeerLine, DEFAULT_CONNECT_TIMEOUT_MS,
  type TcpServer, type TcpServerOptions, type ConnectResult, type ConnectFailure,
} from './traffic.js';
export * as names from './names.js';

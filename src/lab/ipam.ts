/**
 * The lab's IPAM is the shared Calico IPAM implementation (src/ipam), also used by the agent's
 * node startup for tunnel addresses; re-exported here so lab code keeps its import path.
 */
export * from '../ipam/calico-ipam.js';

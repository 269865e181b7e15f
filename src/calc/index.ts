/** The calc layer: pure functions and the graph that wires them (see graph.ts). */
export * from './cidr.js';
export * from './cluster.js';
export * from './routes.js';
export * from './bgp.js';
export * from './graph.js';

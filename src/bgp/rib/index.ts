/**
 * The BGP RIB: per-peer Adj-RIB-In, the Loc-RIB with the RFC 4271 §9.1 decision process, and
 * per-peer Adj-RIB-Out, with import/export policy at its boundary. Synchronous and event-driven:
 * no I/O, no timers. The speaker feeds it decoded UPDATEs and drains what to send; the kernel
 * route reconciler drains best-path changes. See docs/bgp-rib.md.
 */
export * from './types.js';
export { Rib, type UpdateResult } from './rib.js';
export { DECISION_STEPS, DEFAULT_LOCAL_PREF, type DecisionStep } from './decision.js';
export { REJECT_REASONS } from './path.js';

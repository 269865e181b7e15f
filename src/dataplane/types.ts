/** The dataplane's desired-state types are the calc → dataplane messages' payloads (src/proto). */
export * from '../proto/routing.js';

/**
 * The iptables dataplane: Felix's iptables Table on real iptables-restore / iptables-save. One
 * IptablesTable per (table, IP version) keeps the renderer's chains (src/dataplane/rules) in the
 * kernel with minimal writes; resolveBackend picks legacy or nft the way the host already does;
 * removeAllOwned takes everything of ours out again.
 */
export { resolveBackend, binariesFor, type IptablesBackendMode, type IptablesBinaries } from './backend.js';
export { parseSave, hashOfRule, IncompatibleTableError, type SavedChain, type SavedRule } from './save-parser.js';
export { IptablesTable, type IptablesTableOptions } from './table.js';
export { createIptablesMetrics, type IptablesMetrics } from './metrics.js';
export { removeAllOwned, type CleanupOptions } from './cleanup.js';
export { DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_XTABLES_LOCK_FILE } from './restore-runner.js';
export type { InsertMode } from './hooks.js';

/**
 * iptables-restore input for whole chains, as Felix writes it when it (re)creates a chain: a
 * forward reference `:<chain> - -` (which creates the chain or flushes it), then one `-A` line per
 * rule with its hash comment. Hooks into built-in chains are `-I` (insert mode) or `-A` lines
 * hashed per hash.ts. The reconciler that diffs against the live table and writes only changed
 * rules (`-R`/`-D`) is someone else's; these are the whole-chain forms it starts from.
 */
import { renderAppend, renderInsert, type Chain, type Rule, type TableName } from './chain.js';
import { appendedRuleHashes, chainHashes, insertedRuleHashes } from './hash.js';

/** The `-A` lines of a chain; hashes default to the chain's own Felix hashes. */
export function toRestoreLines(chain: Chain, hashes: readonly string[] = chainHashes(chain)): string[] {
  if (hashes.length !== chain.rules.length) throw new Error(`chain ${chain.name}: ${chain.rules.length} rules but ${hashes.length} hashes`);
  return chain.rules.map((r, i) => renderAppend(chain.name, r, hashes[i]));
}

export function forwardReference(chainName: string): string {
  return `:${chainName} - -`;
}

/** A hook: rules Felix puts into a built-in chain (`INPUT`, `FORWARD`, ...) to reach its own. */
export interface HookRules {
  readonly table: TableName;
  readonly chain: string;
  readonly rules: readonly Rule[];
  /**
   * `insert-or-append`: inserted at the top, or appended when ChainInsertMode is Append.
   * `append`: always appended (Felix's AppendRules: FORWARD's accept rules, nat POSTROUTING).
   */
  readonly mode: 'insert-or-append' | 'append';
}

/** The lines that put a hook in place, given the configured ChainInsertMode. */
export function hookLines(hook: HookRules, insertMode: 'insert' | 'append' = 'insert'): string[] {
  if (hook.mode === 'append') {
    const hashes = appendedRuleHashes(hook.chain, hook.rules);
    return hook.rules.map((r, i) => renderAppend(hook.chain, r, hashes[i]));
  }
  const hashes = insertedRuleHashes(hook.chain, hook.rules);
  if (insertMode === 'append') return hook.rules.map((r, i) => renderAppend(hook.chain, r, hashes[i]));
  // Each -I pushes onto the top, so the last rule goes in first.
  const lines: string[] = [];
  for (let i = hook.rules.length - 1; i >= 0; i--) lines.push(renderInsert(hook.chain, hook.rules[i]!, hashes[i]));
  return lines;
}

/**
 * One table's transaction recreating the given chains from scratch: `*<table>`, forward
 * references for all, their rules, the hooks' lines, `COMMIT`. With `--noflush` this leaves
 * other chains alone.
 */
export function restoreTableText(table: TableName, chains: readonly Chain[], hooks: readonly HookRules[] = [], insertMode: 'insert' | 'append' = 'insert'): string {
  const lines = [`*${table}`];
  for (const c of chains) lines.push(forwardReference(c.name));
  for (const c of chains) lines.push(...toRestoreLines(c));
  for (const h of hooks) {
    if (h.table !== table) continue;
    lines.push(...hookLines(h, insertMode));
  }
  lines.push('COMMIT');
  return lines.join('\n') + '\n';
}

/**
 * The dataplane's apply order as data (Felix's `int_dataplane.go` apply sequence and
 * `event_sequencer.go`): a table of reconcilers whose creations and updates run top to bottom and
 * whose deletions then run bottom to top. So what a later entry depends on exists before it is
 * written (a device before the neighbours on it, neighbours before the routes through them; next,
 * IP sets before the iptables rules that match on them), and nothing is removed while something
 * written later still uses it.
 *
 *   updates:    links ─▶ vteps ─▶ (ipsets ─▶ iptables) ─▶ routes
 *   deletions:  routes ─▶ (iptables ─▶ ipsets) ─▶ vteps ─▶ links
 *
 * Each entry may have a hook that runs after its own step (links: a device created or removed
 * changes what the kernel holds for the entries below it, so the links are listed again and the
 * state on them re-read).
 */
import type { ReconcileResult } from './route-reconciler.js';

export interface ReconcilerStep {
  /** Appears in logs and errors. */
  readonly name: string;
  /** Creations and updates (a reconciler that does all its work in one step puts it here). */
  updates(): Promise<ReconcileResult>;
  /** Deletions, after every entry's updates, in reverse table order. */
  deletions?(): Promise<ReconcileResult>;
}

export function emptyResult(): ReconcileResult {
  return { writes: 0, failures: 0, waiting: 0, errors: [] };
}

/** Runs the table: every step's updates in order, then every step's deletions in reverse. */
export async function runTable(table: readonly ReconcilerStep[], add: (r: ReconcileResult) => void): Promise<void> {
  for (const step of table) add(await step.updates());
  for (let i = table.length - 1; i >= 0; i--) {
    const d = table[i]!.deletions;
    if (d) add(await d.call(table[i]));
  }
}

/**
 * How integration tests start `tortie`: the compiled build when the tests themselves run from
 * `dist/` (as `make test` does), so what is tested is what ships; TypeScript through tsx when
 * the tests run from source during development (`node --import tsx --test test/...`).
 */
import { existsSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const compiledDir = `${sep}dist${sep}test${sep}helpers`;

/** True when this file is the compiled copy under dist/test/helpers. */
export const RUNNING_FROM_DIST = here.endsWith(compiledDir);

/** The repository root, whether this file runs from test/helpers or dist/test/helpers. */
export const REPO_ROOT = RUNNING_FROM_DIST ? join(here, '..', '..', '..') : join(here, '..', '..');

/**
 * The argv that runs tortie, to be followed by the subcommand and its arguments:
 * `spawn(cmd[0], [...cmd.slice(1), 'agent'])`.
 */
export function tortieCommand(): string[] {
  if (RUNNING_FROM_DIST) {
    const main = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing; run 'make build' first`);
    // Source maps so an internal error's stack points at the TypeScript line.
    return [process.execPath, '--enable-source-maps', main];
  }
  // Resolved to a file URL so the command works from any working directory (a bare `tsx` would
  // be looked up from the child's cwd).
  return [process.execPath, '--import', import.meta.resolve('tsx'), join(REPO_ROOT, 'src', 'cli', 'main.ts')];
}

/**
 * The argv that runs a helper script next to the calling test (`nodeScriptCommand(import.meta.url,
 * 'syncer-child')`): the compiled `.js` beside it when the caller runs from `dist/`, the `.ts`
 * through tsx when it runs from source. A path built with `new URL('./x.ts', import.meta.url)`
 * breaks from `dist/`, where only `x.js` exists and tsx is not loaded.
 */
export function nodeScriptCommand(callerUrl: string, relativePathWithoutExtension: string): string[] {
  const caller = fileURLToPath(callerUrl);
  const fromTs = caller.endsWith('.ts');
  const script = join(dirname(caller), `${relativePathWithoutExtension}${fromTs ? '.ts' : '.js'}`);
  if (!existsSync(script)) throw new Error(`${script} is missing${fromTs ? '' : "; run 'make build' first"}`);
  return fromTs ? [process.execPath, '--import', import.meta.resolve('tsx'), script] : [process.execPath, '--enable-source-maps', script];
}

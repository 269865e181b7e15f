/**
 * How integration tests start `tortie` and their helper scripts: the compiled build when the
 * tests themselves run from `dist/` (as `make test` does), so what is tested is what ships;
 * TypeScript through tsx when the tests run from source (`node --import tsx --test test/...`).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The argv that runs tortie, to be followed by the subcommand and its arguments:
 * `spawn(cmd[0], [...cmd.slice(1), 'agent'])`. The lab starts agents with the same function.
 */
export { tortieArgv as tortieCommand } from '../../src/lab/agent.js';

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

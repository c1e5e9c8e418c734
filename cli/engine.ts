/**
 * Loading an engine from a command: the library returns start-up warnings (e.g. threads fell back
 * to one); the CLI prints them.
 */
import type { Engine } from '../src/engine/contracts.ts';
import { loadEngine } from '../src/engine/load-engine.ts';

export async function loadEngineReporting(name: string): Promise<Engine> {
  const engine = await loadEngine(name);
  const warning = engine.describe().warning;
  if (warning !== undefined) process.stderr.write(`medrobust: warning: ${warning}\n`);
  return engine;
}

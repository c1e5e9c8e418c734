/** File writing for commands that write results as they go. */
import { rename, writeFile } from 'node:fs/promises';

/** Writes to PATH.partial, then renames: a killed run never leaves a half-written file under PATH. */
export async function writeAtomically(path: string, content: string | Uint8Array): Promise<void> {
  await writeFile(`${path}.partial`, content);
  await rename(`${path}.partial`, path);
}

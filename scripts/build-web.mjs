// Builds the web page (web/ → web/dist) after install, so `medrobust serve` has a page to serve.
// Without Vite (an install that omits dev dependencies) it says so in one line and the server
// serves the API with a page that says how to build it.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let vite;
try {
  createRequire(join(root, 'package.json')).resolve('vite');
  vite = await import('vite');
} catch {
  console.log(
    'medrobust: web page not built (Vite is not installed; `npm install` with dev dependencies, then npm run build:web)',
  );
  process.exit(0);
}
try {
  await vite.build({ configFile: join(root, 'web', 'vite.config.ts'), logLevel: 'warn' });
  if (!existsSync(join(root, 'web', 'dist', 'index.html')))
    throw new Error('web/dist/index.html was not written');
} catch (error) {
  console.log(
    `medrobust: web page not built (${String(error?.message ?? error).split('\n')[0]}); retry with npm run build:web`,
  );
}

/**
 * The web page's build (Vite; Preact for the components, its JSX compiled by Vite's own transformer).
 * `npm run build:web` writes web/dist, which `medrobust serve` serves at /. `npm run dev:web` runs
 * Vite's dev server with the API proxied to a `medrobust serve` on port 8080.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 200 },
  server: {
    proxy: Object.fromEntries(
      ['/v1', '/runs', '/healthz', '/metrics'].map((path) => [path, 'http://127.0.0.1:8080']),
    ),
  },
});

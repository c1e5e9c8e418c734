/**
 * Loading the native engine's addon (src/engine/torch/addon.cc, built by scripts/build-torch.mjs
 * after install when Debian's libtorch-dev is present). When it cannot load, the reason says why and
 * how to get it: not built (and why the build was skipped), or built but failing to load.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TorchAddon } from '../engine/torch/addon-types.ts';

const build = join(dirname(fileURLToPath(import.meta.url)), '..', 'engine', 'torch', 'build');
const addonPath = join(build, 'Release', 'medrobust_torch.node');

export type TorchAddonResult =
  | { readonly addon: TorchAddon; readonly reason?: undefined }
  | { readonly addon?: undefined; readonly reason: string };

let cached: TorchAddonResult | undefined;

export function loadTorchAddon(): TorchAddonResult {
  if (cached !== undefined) return cached;
  if (!existsSync(addonPath)) {
    const recorded = join(build, 'unavailable.txt');
    const why = existsSync(recorded)
      ? readFileSync(recorded, 'utf8').trim().split('\n')[0]
      : 'the addon has not been built';
    cached = {
      reason: `${why}; to enable it: apt-get install libtorch-dev libopenblas0-pthread (as root), then npm run build:torch`,
    };
    return cached;
  }
  try {
    cached = { addon: createRequire(import.meta.url)(addonPath) as TorchAddon };
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    cached = { reason: `the addon failed to load (${message}); rebuild it with \`npm run build:torch\`` };
  }
  return cached;
}

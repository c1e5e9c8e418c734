/**
 * The layer rule of DESIGN.md §1:
 *   core ← data, engine ← models ← attacks, analysis, detectors ← evaluation ← report ← cli, server
 * `A ← B` means B may import A, never the reverse. Node-only code lives under src/node/ and is
 * imported only by cli/, server/ and engine loaders.
 */
const layers = [
  'core',
  'data',
  'engine',
  'models',
  'attacks',
  'analysis',
  'detectors',
  'evaluation',
  'report',
];
// What each layer may import (besides itself and npm packages).
const allowed = {
  core: [],
  data: ['core'],
  engine: ['core'],
  models: ['core', 'data', 'engine'],
  attacks: ['core', 'data', 'engine', 'models'],
  analysis: ['core', 'data', 'engine', 'models'],
  detectors: ['core', 'data', 'engine', 'models'],
  evaluation: ['core', 'data', 'engine', 'models', 'attacks', 'analysis', 'detectors'],
  report: ['core', 'data', 'engine', 'models', 'attacks', 'analysis', 'detectors', 'evaluation'],
};
const forbidden = layers.map((layer) => ({
  name: `layer-${layer}`,
  comment: `src/${layer} may import only: ${allowed[layer].join(', ') || 'nothing above core'} (DESIGN.md §1)`,
  severity: 'error',
  from: { path: `^src/${layer}/`, pathNot: '^src/engine/load-engine\\.ts$' },
  to: {
    path: `^src/(${layers.filter((other) => other !== layer && !allowed[layer].includes(other)).join('|')}|node)/`,
  },
}));
forbidden.push(
  {
    name: 'engine-loader-only-imports-node',
    comment:
      'the Node engine loader may import src/node (worker threads, native addons), nothing else below it',
    severity: 'error',
    from: { path: '^src/engine/load-engine\\.ts$' },
    to: { path: `^src/(${layers.filter((other) => other !== 'engine' && other !== 'core').join('|')})/` },
  },
  {
    name: 'library-never-imports-apps',
    comment: 'src/ is the library: it never imports cli/, server/ or web/',
    severity: 'error',
    from: { path: '^src/' },
    to: { path: '^(cli|server|web)/' },
  },
  {
    name: 'web-uses-the-api-only',
    comment:
      'the web page runs in a browser and talks to the server over HTTP: it imports nothing from src/, cli/ or server/',
    severity: 'error',
    from: { path: '^web/' },
    to: { path: '^(src|cli|server)/' },
  },
  {
    name: 'no-circular',
    severity: 'error',
    from: {},
    to: { circular: true },
  },
);
module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.test\\.ts$' },
  },
};

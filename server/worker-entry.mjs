// Entry of an inference worker thread: a worker starts with a fresh module loader, so register tsx
// here (as bin/medrobust.js does for the main thread) before loading the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./inference-worker.ts');

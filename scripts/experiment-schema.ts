/**
 * Writes docs/experiment.schema.json, the JSON Schema of experiment files (for editors: experiments
 * point at it with "$schema"), from the zod schema that `medrobust run` validates with.
 * Run: npx tsx scripts/experiment-schema.ts && npx biome format --write docs/experiment.schema.json
 * (a test checks the committed file is current).
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { experimentJsonSchema } from '../src/evaluation/experiment/schema.ts';

const path = resolve(import.meta.dirname, '..', 'docs', 'experiment.schema.json');
writeFileSync(path, `${JSON.stringify(experimentJsonSchema(), null, 2)}\n`);
process.stdout.write(`wrote ${path}\n`);

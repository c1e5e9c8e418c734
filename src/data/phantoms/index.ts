/**
 * Seeded synthetic phantoms with lesion masks: procedurally drawn fundus photographs, chest X-rays and
 * dermoscopy images, each with a binary label and a mask of its lesion. They serve fast training smoke
 * tests, attack tests and lesion-aware analyses (the share of perturbation energy inside the lesion)
 * without any downloaded data.
 *
 * Image i depends only on (seed, kind, size, i, diseaseFraction): its random draws come from a
 * `Random` seeded by a hash of (seed, kind, size, i), and its label from a low-discrepancy sequence
 * (label i is 1 when ⌊(i + 1)·f⌋ > ⌊i·f⌋), so every prefix of n images holds ⌊n·f⌋ diseased ones and
 * generating 10 images gives the same first 5 as generating 5.
 *
 * Output: images NHWC float32 in [0, 1] (3 channels for fundus and dermoscopy, 1 for chest X-ray),
 * labels count×1, masks count×size×size (1 inside the lesion).
 */
import { MedrobustError } from '../../core/errors.ts';
import { Random } from '../../core/random.ts';
import type { ImageSet } from '../image-set.ts';
import { drawChestXray } from './chest-xray.ts';
import { drawDermoscopy } from './dermoscopy.ts';
import { drawFundus } from './fundus.ts';

export { drawChestXray } from './chest-xray.ts';
export { drawDermoscopy } from './dermoscopy.ts';
export { drawFundus } from './fundus.ts';

export type PhantomKind = 'fundus' | 'chest-xray' | 'dermoscopy';

interface PhantomGenerator {
  readonly channels: number;
  readonly classNames: readonly [healthy: string, diseased: string];
  readonly draw: (
    random: Random,
    size: number,
    diseased: boolean,
  ) => { pixels: Float32Array; mask: Uint8Array };
}

const generators = Object.freeze({
  fundus: {
    channels: 3,
    classNames: ['no referable retinopathy', 'referable retinopathy'],
    draw: drawFundus,
  },
  'chest-xray': { channels: 1, classNames: ['no opacity', 'opacity'], draw: drawChestXray },
  dermoscopy: { channels: 3, classNames: ['nevus', 'melanoma'], draw: drawDermoscopy },
} satisfies Record<PhantomKind, PhantomGenerator>);

export const phantomKinds = Object.freeze(Object.keys(generators) as PhantomKind[]);

export interface PhantomOptions {
  kind: PhantomKind;
  /** Number of images, at least 1. */
  count: number;
  /** Side of the square images in pixels, an integer from 16 to 1024. */
  size: number;
  seed: number;
  /** Share of diseased (label 1) images, in [0, 1]; default 0.5. */
  diseaseFraction?: number;
}

export function generatePhantoms(options: PhantomOptions): ImageSet & { masks: Uint8Array } {
  const { kind, count, size, seed, diseaseFraction = 0.5 } = options;
  const invalid = (message: string, hint: string): never => {
    throw new MedrobustError('invalid-argument', message, { hint });
  };
  if (!Object.hasOwn(generators, kind)) {
    const valid = phantomKinds.join(', ');
    invalid(
      `generatePhantoms: unknown kind '${String(kind)}'; valid kinds: ${valid}`,
      `use one of: ${valid}`,
    );
  }
  if (!Number.isInteger(count) || count < 1) {
    invalid(`generatePhantoms: count must be an integer ≥ 1, got ${count}`, 'ask for at least one image');
  }
  if (!Number.isInteger(size) || size < 16 || size > 1024) {
    invalid(
      `generatePhantoms: size must be an integer from 16 to 1024, got ${size}`,
      'use e.g. 28, 64 or 224',
    );
  }
  if (!Number.isFinite(seed)) {
    invalid(`generatePhantoms: seed must be a finite number, got ${seed}`, 'pass an integer seed');
  }
  if (!(diseaseFraction >= 0 && diseaseFraction <= 1)) {
    invalid(`generatePhantoms: diseaseFraction must be in [0, 1], got ${diseaseFraction}`, 'e.g. 0.5');
  }
  const generator: PhantomGenerator = generators[kind];
  const { channels } = generator;
  const kindIndex = phantomKinds.indexOf(kind);
  const images = new Float32Array(count * size * size * channels);
  const masks = new Uint8Array(count * size * size);
  const labels = new Int32Array(count);
  const sources: string[] = [];
  for (let i = 0; i < count; i++) {
    const diseased = Math.floor((i + 1) * diseaseFraction) > Math.floor(i * diseaseFraction);
    const random = new Random(imageSeed(seed, kindIndex, size, i));
    const { pixels, mask } = generator.draw(random, size, diseased);
    images.set(pixels, i * size * size * channels);
    masks.set(mask, i * size * size);
    labels[i] = diseased ? 1 : 0;
    sources.push(`phantom-${kind}:${i}`);
  }
  return {
    images,
    shape: [count, size, size, channels],
    labels,
    labelsPerImage: 1,
    classNames: generator.classNames,
    task: 'binary',
    masks,
    sources,
  };
}

/** A 32-bit seed mixing (seed, kind, size, index) with MurmurHash3's finaliser after each word. */
function imageSeed(seed: number, kindIndex: number, size: number, index: number): number {
  let hash = 0x9e3779b9;
  for (const word of [Math.floor(seed) | 0, Math.floor(seed / 2 ** 32) | 0, kindIndex, size, index]) {
    hash = Math.imul(hash ^ word, 0x85ebca6b);
    hash ^= hash >>> 13;
    hash = Math.imul(hash, 0xc2b2ae35);
    hash ^= hash >>> 16;
  }
  return hash | 0;
}

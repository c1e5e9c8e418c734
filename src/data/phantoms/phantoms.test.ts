import { describe, expect, it } from 'vitest';
import { MedrobustError } from '../../core/errors.ts';
import { generatePhantoms, type PhantomKind, phantomKinds } from './index.ts';

type PhantomSet = ReturnType<typeof generatePhantoms>;

function add(totals: Float64Array, index: number, value: number): void {
  totals[index] = (totals[index] ?? 0) + value;
}

/** Byte equality of two typed arrays (much faster than a deep equal on large arrays). */
function same(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

function maskArea(set: PhantomSet, image: number): number {
  const [, height, width] = set.shape;
  let area = 0;
  for (let pixel = 0; pixel < height * width; pixel++) area += set.masks[image * height * width + pixel] ?? 0;
  return area;
}

/**
 * How much lesion pixels differ from the tissue around them: for each channel, the mean over mask
 * pixels of |pixel − mean of the non-mask pixels within `reach` of it|; the largest channel wins.
 * Local, so a fundus with dark haemorrhages and bright exudates does not cancel out.
 */
function localContrast(set: PhantomSet, image: number, reach: number): number {
  const [, size, , channels] = set.shape;
  const offset = image * size * size;
  const at = (row: number, column: number, channel: number): number =>
    set.images[(offset + row * size + column) * channels + channel] ?? 0;
  const totals = new Float64Array(channels);
  let lesionPixels = 0;
  for (let row = 0; row < size; row++) {
    for (let column = 0; column < size; column++) {
      if (set.masks[offset + row * size + column] !== 1) continue;
      const surroundings = new Float64Array(channels);
      let count = 0;
      for (let r = Math.max(0, row - reach); r <= Math.min(size - 1, row + reach); r++) {
        for (let c = Math.max(0, column - reach); c <= Math.min(size - 1, column + reach); c++) {
          if (set.masks[offset + r * size + c] === 1) continue;
          for (let channel = 0; channel < channels; channel++) add(surroundings, channel, at(r, c, channel));
          count++;
        }
      }
      if (count === 0) continue;
      lesionPixels++;
      for (let channel = 0; channel < channels; channel++) {
        add(totals, channel, Math.abs(at(row, column, channel) - (surroundings[channel] ?? 0) / count));
      }
    }
  }
  return Math.max(...[...totals].map((total) => total / Math.max(1, lesionPixels)));
}

/** Mean inside the mask minus mean over a ring `width` pixels wide around it, per channel. */
function ringDifference(set: PhantomSet, image: number, width: number): number[] {
  const [, size, , channels] = set.shape;
  const offset = image * size * size;
  const inside = new Float64Array(channels);
  const ring = new Float64Array(channels);
  let insideCount = 0;
  let ringCount = 0;
  for (let row = 0; row < size; row++) {
    for (let column = 0; column < size; column++) {
      const index = offset + row * size + column;
      let nearLesion = false;
      for (let r = Math.max(0, row - width); r <= Math.min(size - 1, row + width) && !nearLesion; r++) {
        for (let c = Math.max(0, column - width); c <= Math.min(size - 1, column + width); c++) {
          if (set.masks[offset + r * size + c] === 1) nearLesion = true;
        }
      }
      const inLesion = set.masks[index] === 1;
      if (!inLesion && !nearLesion) continue;
      for (let channel = 0; channel < channels; channel++) {
        const value = set.images[index * channels + channel] ?? 0;
        add(inLesion ? inside : ring, channel, value);
      }
      if (inLesion) insideCount++;
      else ringCount++;
    }
  }
  return [...inside].map((total, channel) => total / insideCount - (ring[channel] ?? 0) / ringCount);
}

const channelsOf: Record<PhantomKind, number> = { fundus: 3, 'chest-xray': 1, dermoscopy: 3 };

describe('generatePhantoms', () => {
  it('is deterministic under a seed, differs across seeds, and is prefix-stable', () => {
    for (const kind of phantomKinds) {
      const options = { kind, count: 6, size: 32, seed: 11 };
      const first = generatePhantoms(options);
      const again = generatePhantoms(options);
      expect(same(again.images, first.images), kind).toBe(true);
      expect(same(again.masks, first.masks), kind).toBe(true);
      expect(again.labels).toEqual(first.labels);
      const other = generatePhantoms({ ...options, seed: 12 });
      expect(same(other.images, first.images), kind).toBe(false);
      const prefix = generatePhantoms({ ...options, count: 3 });
      const perImage = 32 * 32 * channelsOf[kind];
      expect(same(prefix.images, first.images.subarray(0, 3 * perImage)), kind).toBe(true);
      expect(same(prefix.masks, first.masks.subarray(0, 3 * 32 * 32)), kind).toBe(true);
      expect(prefix.labels).toEqual(first.labels.subarray(0, 3));
      expect(prefix.sources).toEqual(first.sources?.slice(0, 3));
      // Images within one set differ from each other.
      const image = (index: number) => first.images.subarray(index * perImage, (index + 1) * perImage);
      expect(same(image(0), image(2)), kind).toBe(false);
    }
  });

  it('returns an ImageSet of the right shape, range, labels and sources', () => {
    const classNames: Record<PhantomKind, string[]> = {
      fundus: ['no referable retinopathy', 'referable retinopathy'],
      'chest-xray': ['no opacity', 'opacity'],
      dermoscopy: ['nevus', 'melanoma'],
    };
    for (const kind of phantomKinds) {
      const set = generatePhantoms({ kind, count: 8, size: 40, seed: 3 });
      const channels = channelsOf[kind];
      expect(set.shape).toEqual([8, 40, 40, channels]);
      expect(set.images.length).toBe(8 * 40 * 40 * channels);
      expect(set.masks.length).toBe(8 * 40 * 40);
      expect([...set.labels]).toEqual([0, 1, 0, 1, 0, 1, 0, 1]);
      expect(set.labelsPerImage).toBe(1);
      expect(set.task).toBe('binary');
      expect(set.classNames).toEqual(classNames[kind]);
      expect(set.sources).toEqual([...Array(8).keys()].map((i) => `phantom-${kind}:${i}`));
      expect(set.images.every((value) => value >= 0 && value <= 1)).toBe(true);
      expect(set.masks.every((value) => value === 0 || value === 1)).toBe(true);
    }
  });

  it('follows diseaseFraction in every prefix', () => {
    const count = (fraction: number) =>
      generatePhantoms({
        kind: 'chest-xray',
        count: 12,
        size: 16,
        seed: 1,
        diseaseFraction: fraction,
      }).labels.reduce((sum, label) => sum + label, 0);
    expect(count(0)).toBe(0);
    expect(count(1)).toBe(12);
    expect(count(0.25)).toBe(3);
  });

  it('draws visible lesions of plausible area under the masks, and none in healthy fundus and chest images', () => {
    for (const kind of phantomKinds) {
      for (const size of [28, 64]) {
        const set = generatePhantoms({ kind, count: 24, size, seed: 5 });
        for (let image = 0; image < 24; image++) {
          const diseased = set.labels[image] === 1;
          const area = maskArea(set, image) / (size * size);
          if (!diseased && kind !== 'dermoscopy') {
            expect(area, `${kind} ${size} px healthy image ${image}`).toBe(0);
            continue;
          }
          const where = `${kind} ${size} px image ${image} (label ${set.labels[image]})`;
          expect(area, where).toBeGreaterThan(0.001);
          expect(area, where).toBeLessThan(0.3);
          expect(localContrast(set, image, Math.max(2, Math.round(size / 16))), where).toBeGreaterThan(0.05);
          if (kind !== 'fundus') {
            // One kind of lesion per image: the plain inside-versus-ring mean differs too.
            const difference = ringDifference(set, image, Math.max(1, Math.round(size / 24)));
            expect(Math.max(...difference.map(Math.abs)), where).toBeGreaterThan(0.05);
          }
        }
      }
    }
  });

  it('works at sizes 16, 28, 64 and 224, with the disease visible at every size', () => {
    for (const kind of phantomKinds) {
      for (const size of [16, 28, 64, 224]) {
        const count = size === 224 ? 2 : 6;
        const set = generatePhantoms({ kind, count, size, seed: 8 });
        expect(set.shape).toEqual([count, size, size, channelsOf[kind]]);
        expect(set.images.every((value) => value >= 0 && value <= 1)).toBe(true);
        for (let image = 1; image < count; image += 2) {
          expect(maskArea(set, image), `${kind} ${size} px image ${image}`).toBeGreaterThan(0);
          expect(localContrast(set, image, Math.max(2, Math.round(size / 16)))).toBeGreaterThan(0.05);
        }
      }
    }
  });

  it('makes 64 images of 28 px quickly (a training smoke-test set)', () => {
    for (const kind of phantomKinds) {
      const set = generatePhantoms({ kind, count: 64, size: 28, seed: 0 });
      expect(set.labels.reduce((sum, label) => sum + label, 0)).toBe(32);
    }
  });

  it('rejects bad options with a MedrobustError naming the option', () => {
    const cases: [options: Parameters<typeof generatePhantoms>[0], option: RegExp][] = [
      [{ kind: 'fundus', count: 0, size: 28, seed: 1 }, /count/],
      [{ kind: 'fundus', count: 2.5, size: 28, seed: 1 }, /count/],
      [{ kind: 'fundus', count: 2, size: 15, seed: 1 }, /size/],
      [{ kind: 'fundus', count: 2, size: 1025, seed: 1 }, /size/],
      [{ kind: 'fundus', count: 2, size: 28.5, seed: 1 }, /size/],
      [{ kind: 'fundus', count: 2, size: 28, seed: Number.NaN }, /seed/],
      [{ kind: 'fundus', count: 2, size: 28, seed: 1, diseaseFraction: 1.5 }, /diseaseFraction/],
      // A caller outside TypeScript can pass any string.
      [
        { kind: 'mri' as PhantomKind, count: 2, size: 28, seed: 1 },
        /kind 'mri'.*fundus, chest-xray, dermoscopy/,
      ],
    ];
    for (const [options, option] of cases) {
      let caught: unknown;
      try {
        generatePhantoms(options);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(MedrobustError);
      const error = caught as MedrobustError;
      expect(error.code).toBe('invalid-argument');
      expect(error.message).toMatch(option);
      expect(error.hint).toBeTruthy();
    }
  });
});

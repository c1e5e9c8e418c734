/**
 * Host-side weights: the currency between engines and weight files. Names and layouts are
 * PyTorch's (see network-spec.ts), so a map read from a torchvision checkpoint needs no renaming.
 */
import { MedrobustError } from '../core/errors.ts';
import { type NetworkSpec, parameterSpecs } from './network-spec.ts';

export interface HostTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export type WeightMap = ReadonlyMap<string, HostTensor>;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((size, index) => size === b[index]);
}

/**
 * Checks a weight map against a spec: every parameter present with the right shape. The only
 * entries allowed to be missing are `num_batches_tracked` counters (older PyTorch checkpoints lack
 * them); unexpected entries are an error, as with PyTorch's `strict=True`.
 */
export function checkWeights(spec: NetworkSpec, weights: WeightMap, source: string): void {
  const expected = parameterSpecs(spec);
  const missing: string[] = [];
  const wrongShape: string[] = [];
  for (const [name, parameter] of expected) {
    const tensor = weights.get(name);
    if (tensor === undefined) {
      if (!name.endsWith('.num_batches_tracked')) missing.push(name);
      continue;
    }
    const size = tensor.shape.reduce((product, dimension) => product * dimension, 1);
    if (!sameShape(tensor.shape, parameter.shape) || tensor.data.length !== size) {
      wrongShape.push(`${name}: expected [${parameter.shape.join(', ')}], got [${tensor.shape.join(', ')}]`);
    }
  }
  const unexpected = [...weights.keys()].filter((name) => !expected.has(name));
  if (missing.length + wrongShape.length + unexpected.length === 0) return;
  const list = (label: string, names: string[]) =>
    names.length === 0
      ? ''
      : `\n  ${label} (${names.length}): ${names.slice(0, 8).join('; ')}${names.length > 8 ? '; …' : ''}`;
  throw new MedrobustError(
    'invalid-model',
    `${source}: weights do not match the architecture${list('missing', missing)}${list('wrong shape', wrongShape)}${list('unexpected', unexpected)}`,
    {
      hint: 'check that model.json (architecture, classes, channels, width, head) describes the network these weights came from; docs/weights.md lists the expected names',
    },
  );
}

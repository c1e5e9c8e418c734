import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MedrobustError } from '../../core/errors.ts';
import { experimentJsonSchema, parseExperiment } from './schema.ts';

const projectRoot = join(import.meta.dirname, '..', '..', '..');
const readJson = (path: string) => JSON.parse(readFileSync(join(projectRoot, path), 'utf8'));

const minimal = {
  name: 'tiny',
  datasets: [{ name: 'chest', path: 'phantom:chest-xray:16' }],
  models: [{ name: 'cnn', train: { epochs: 1 } }],
};

function failure(json: unknown): MedrobustError {
  try {
    parseExperiment(json, 'exp.json');
  } catch (error) {
    expect(error).toBeInstanceOf(MedrobustError);
    return error as MedrobustError;
  }
  throw new Error('expected parseExperiment to throw');
}

describe('parseExperiment', () => {
  it('fills in the paper defaults', () => {
    const experiment = parseExperiment(
      { ...minimal, detection: {}, robustness: { attacks: ['paper-pgd'], epsilons: ['1/255'] } },
      'exp.json',
    );
    expect(experiment.seed).toBe(0);
    expect(experiment.engine).toBe('auto');
    expect(experiment.datasets[0]?.split).toBe('test');
    expect(experiment.models[0]?.train).toMatchObject({ arch: 'small-cnn', epochs: 1, optimizer: 'adam' });
    expect(experiment.detection?.epsilon).toBeCloseTo(1 / 255, 15);
    expect(experiment.detection?.detectors.map((detector) => detector.name)).toEqual([
      'kd',
      'lid',
      'dfeat',
      'qfeat',
      'mahalanobis',
    ]);
    expect(experiment.detection?.protocols).toEqual(['grouped', 'paper']);
    expect(experiment.robustness?.attacks).toEqual([{ name: 'paper-pgd', options: {} }]);
    expect(experiment.analyses).toEqual([]);
  });

  it('names the path and the fix of a bad ε', () => {
    const error = failure({ ...minimal, robustness: { attacks: ['paper-pgd'], epsilons: ['1/255', 'two'] } });
    expect(error.message).toContain('exp.json at robustness.epsilons[1]');
    expect(error.message).toContain('"two" is not an ε');
    expect(error.hint).toContain('robustness is');
  });

  it('names unknown fields', () => {
    const error = failure({ ...minimal, models: [{ name: 'cnn', train: { epochs: 1, learningRate: 1 } }] });
    expect(error.message).toContain('at models[0].train');
    expect(error.message).toContain('unknown field "learningRate"');
  });

  it('needs exactly one of train and load', () => {
    const error = failure({ ...minimal, models: [{ name: 'cnn' }] });
    expect(error.message).toContain('at models[0]');
    expect(error.message).toContain('exactly one of "train"');
  });

  it('rejects unknown attacks and detectors with the registry hint', () => {
    const attack = failure({ ...minimal, robustness: { attacks: ['pgdd'], epsilons: [0.01] } });
    expect(attack.message).toContain('at robustness.attacks[0].name');
    const detector = failure({ ...minimal, detection: { detectors: ['kd', 'nope'] } });
    expect(detector.message).toContain('at detection.detectors[1].name');
  });

  it('rejects a minimisation attack for detection, duplicate names and dangling references', () => {
    expect(failure({ ...minimal, detection: { attacks: ['cw-l2'] } }).message).toContain('fixed-ε attack');
    expect(failure({ ...minimal, datasets: [minimal.datasets[0], minimal.datasets[0]] }).message).toContain(
      'at datasets[1].name: the name "chest" is used twice',
    );
    expect(
      failure({ ...minimal, models: [{ name: 'cnn', train: {}, datasets: ['other'] }] }).message,
    ).toContain('at models[0].datasets[0]: no dataset is named "other"');
    expect(failure({ ...minimal, analyses: [{ kind: 'gradcam' }, { kind: 'gradcam' }] }).message).toContain(
      'two analyses are named "gradcam"',
    );
    expect(failure({ ...minimal, name: 'a b' }).message).toContain('at name');
  });
});

describe('presets and the JSON Schema', () => {
  it('every preset in experiments/ is a valid experiment', () => {
    const presets = readdirSync(join(projectRoot, 'experiments')).filter((file) => file.endsWith('.json'));
    expect(presets).toEqual(expect.arrayContaining(['demo.json', 'paper.json', 'hardening.json']));
    for (const file of presets) parseExperiment(readJson(`experiments/${file}`), file);
    const hardening = parseExperiment(readJson('experiments/hardening.json'), 'hardening.json');
    expect(hardening.models[1]?.train?.adversarial).toEqual({
      method: 'pgd',
      epsilon: 2 / 255,
      steps: 7,
      warmup: 0,
      onOverfitting: 'stop',
    });
  });

  it('experiments/demo.json and experiments/paper.json hold the settings the docs state', () => {
    const demo = parseExperiment(readJson('experiments/demo.json'), 'demo.json');
    expect(demo.datasets[0]?.path).toBe('../data/breastmnist.npz');
    const paper = parseExperiment(readJson('experiments/paper.json'), 'paper.json');
    // The paper's grids (Ma et al. 2021 §3): FGSM 0.1…1, 1…10 /255 (19 values), the others 0.1…1 /255.
    expect(paper.robustness?.attacks[0]?.epsilons).toHaveLength(19);
    expect(paper.robustness?.epsilons).toHaveLength(10);
    expect(paper.robustness?.epsilons.at(-1)).toBeCloseTo(1 / 255, 15);
    expect(paper.detection?.epsilon).toBeCloseTo(1 / 255, 15);
    expect(paper.models[0]?.train).toMatchObject({
      arch: 'resnet50',
      head: 'paper',
      optimizer: 'sgd',
      lr: 1e-3,
      batch: 32,
    });
  });

  it('docs/experiment.schema.json is the current schema (npx tsx scripts/experiment-schema.ts)', () => {
    expect(readJson('docs/experiment.schema.json')).toEqual(experimentJsonSchema());
  });
});

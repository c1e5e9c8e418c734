import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readNpz } from '../src/data/npz.ts';
import { breastPath, cifarPath, hasSharedData, npyBytes } from '../test/support/data.ts';
import { main } from './main.ts';

const run = promisify(execFile);
const binary = join(import.meta.dirname, '..', 'bin', 'medrobust.js');

/** Runs the CLI in-process and captures what it writes. */
async function cli(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('medrobust model', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'medrobust-cli-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('init writes a model directory that info describes, in text and JSON', async () => {
    const out = join(root, 'r18');
    const init = await cli(
      'model',
      'init',
      '--arch',
      'resnet18',
      '--classes',
      '2',
      '--channels',
      '1',
      '--size',
      '28',
      '--class-names',
      'normal,pneumonia',
      '--out',
      out,
    );
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('parameters    11,168,706 trainable');
    const text = await cli('model', 'info', out);
    expect(text.stdout).toMatch(/architecture +resnet18 \(width ×1, small stem, linear head\)/);
    expect(text.stdout).toContain('input shape   28 × 28 × 1');
    expect(text.stdout).toContain('bounds        [0, 1]');
    const json = await cli('model', 'info', out, '--json');
    const summary = JSON.parse(json.stdout);
    expect(summary).toMatchObject({
      parameters: 11_168_706,
      inputShape: [28, 28, 1],
      classNames: ['normal', 'pneumonia'],
    });
    expect(summary.taps).toContain('layer4');
  });

  it('paper head, width and stem options reach the architecture', async () => {
    const out = join(root, 'r50');
    const init = await cli(
      'model',
      'init',
      '--arch',
      'resnet50',
      '--classes',
      '3',
      '--channels',
      '3',
      '--size',
      '64',
      '--width',
      '0.25',
      '--head',
      'paper',
      '--out',
      out,
    );
    expect(init.code).toBe(0);
    const summary = JSON.parse((await cli('model', 'info', out, '--json')).stdout);
    expect(summary.architecture).toEqual({
      arch: 'resnet50',
      classes: 3,
      channels: 3,
      size: 64,
      width: 0.25,
      head: 'paper',
      stem: 'imagenet',
    });
    expect(summary.taps).toContain('feature');
  });

  it.each([
    [
      ['model', 'init', '--arch', 'vgg16', '--classes', '2', '--out', 'x'],
      2,
      /--arch must be one of small-cnn, resnet18, resnet34, resnet50, got "vgg16"/,
    ],
    [
      ['model', 'init', '--arch', 'resnet18', '--classes', '1', '--out', 'x'],
      2,
      /--classes must be an integer in \[2, /,
    ],
    [
      ['model', 'init', '--arch', 'resnet18', '--classes', '2', '--channels', '2', '--out', 'x'],
      2,
      /--channels must be 1 \(grey\) or 3 \(RGB\)/,
    ],
    [['model', 'info', '/nonexistent/model'], 4, /no such model directory/],
  ])('%j exits %i with a message that says what was wrong', async (argv, code, message) => {
    const result = await cli(...argv);
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain('fix:');
  });

  it.skipIf(!hasSharedData)('data info prints splits, classes, counts and the md5 status', async () => {
    const text = await cli('data', 'info', breastPath);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(
      'checksum md5 750601b1f35ba3300ea97c75c52ff8f6: matches the official release',
    );
    expect(text.stdout).toMatch(/test +156 images 28×28×1, values 0\.000…0\.996, per class 42 \/ 114/);
    const json = JSON.parse((await cli('data', 'info', breastPath, '--json')).stdout);
    expect(json).toMatchObject({
      format: 'medmnist',
      task: 'binary',
      classNames: ['malignant', 'normal, benign'],
    });
    const missing = await cli('data', 'info', join(root, 'nothing.npz'));
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/nothing\.npz: no such file or folder[\s\S]*fix:/);
  });

  it.skipIf(!hasSharedData)(
    'eval reports AUC, accuracy, recall and the confusion matrix, and refuses mismatched data',
    async () => {
      const model = join(root, 'eval-cnn');
      await cli('model', 'init', '--arch', 'small-cnn', '--classes', '2', '--width', '0.25', '--out', model);
      const result = JSON.parse((await cli('eval', '--model', model, '--data', breastPath, '--json')).stdout);
      expect(result).toMatchObject({ split: 'test', task: 'binary', count: 156 });
      expect(result.auc).toBeGreaterThanOrEqual(0);
      expect(result.auc).toBeLessThanOrEqual(1);
      expect(result.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(156);
      const wide = join(root, 'eval-64');
      await cli('model', 'init', '--arch', 'small-cnn', '--classes', '2', '--size', '64', '--out', wide);
      const mismatch = await cli('eval', '--model', wide, '--data', breastPath);
      expect(mismatch.code).toBe(3);
      expect(mismatch.stderr).toMatch(/images are 28×28×1 but small-cnn-64px-2class takes 64×64×1/);
    },
  );

  it.skipIf(!hasSharedData)(
    'attack writes results.json, results.csv, npz and grids as it goes, resumes, and refuses bad input',
    async () => {
      const model = join(root, 'attack-cnn');
      await cli('model', 'init', '--arch', 'small-cnn', '--classes', '2', '--width', '0.25', '--out', model);
      const out = join(root, 'attack-run');
      const common = [
        '--model',
        model,
        '--data',
        breastPath,
        '--images',
        '12',
        '--engine',
        'wasm',
        '--out',
        out,
      ];
      const args = ['attack', ...common, '--attack', 'paper-fgsm,paper-pgd', '--eps', '1/255,8/255'];
      const first = await cli(...args);
      expect(first.code).toBe(0);
      const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
      expect(results).toMatchObject({ format: 'medrobust-robustness', complete: true });
      expect(
        results.entries.map(
          (entry: { attack: string; epsilonText: string }) => `${entry.attack}@${entry.epsilonText}`,
        ),
      ).toEqual(['paper-fgsm@1/255', 'paper-fgsm@8/255', 'paper-pgd@1/255', 'paper-pgd@8/255']);
      for (const entry of results.entries) {
        expect(entry.maxLinf).toBeLessThanOrEqual(entry.epsilon + 1e-6);
        expect(entry.adversarialAccuracyOnCorrect).toBeCloseTo(1 - entry.successRate, 9);
      }
      expect(results.configuration.healthyClass).toBe('normal, benign');
      expect(results.worstCase).toHaveLength(2);
      const csv = await readFile(join(out, 'results.csv'), 'utf8');
      expect(csv.split('\n')[0]).toContain('adversarial_accuracy_on_correct');
      const archive = readNpz(await readFile(join(out, 'adversarial-paper-pgd-8_255.npz')), 'npz');
      expect(archive.get('adversarial').shape).toEqual([12, 28, 28, 1]);
      expect(archive.get('adversarial_predictions').data).toHaveLength(12);
      expect((await stat(join(out, 'examples-paper-pgd-8_255.png'))).size).toBeGreaterThan(0);

      const again = await cli(...args);
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/already holds a robustness run[\s\S]*--resume/);
      const resumed = await cli(...args, '--resume');
      expect(resumed.code).toBe(0);
      expect(resumed.stderr).not.toContain('paper-pgd ε=');
      const other = await cli('attack', ...common, '--attack', 'paper-bim', '--eps', '1/255', '--resume');
      expect(other.code).toBe(2);
      expect(other.stderr).toMatch(/holds a run with other settings/);

      const badEpsilon = await cli('attack', ...common, '--eps', '2');
      expect(badEpsilon.code).toBe(2);
      expect(badEpsilon.stderr).toMatch(/--eps: "2" is not an ε in \[0, 1\]/);
      const badAttack = await cli('attack', ...common, '--attack', 'pgdd');
      expect(badAttack.stderr).toMatch(/unknown attack "pgdd"[\s\S]*paper-pgd/);
    },
  );

  it.skipIf(!hasSharedData)(
    'eval and attack read resized data (--resize) before any engine work',
    async () => {
      const model = join(root, 'resize-cnn');
      await cli(
        'model',
        'init',
        '--arch',
        'small-cnn',
        '--classes',
        '2',
        '--width',
        '0.25',
        '--size',
        '32',
        '--out',
        model,
      );
      const evaluated = await cli(
        'eval',
        '--model',
        model,
        '--data',
        breastPath,
        '--resize',
        '32',
        '--json',
        '--engine',
        'wasm',
      );
      expect(evaluated.code).toBe(0);
      expect(JSON.parse(evaluated.stdout)).toMatchObject({ count: 156 });
      const out = join(root, 'resize-attack');
      const attacked = await cli(
        'attack',
        '--model',
        model,
        '--data',
        breastPath,
        '--resize',
        '32',
        '--images',
        '4',
        '--attack',
        'fgsm',
        '--eps',
        '1/255',
        '--engine',
        'wasm',
        '--out',
        out,
      );
      expect(attacked.code).toBe(0);
      const archive = readNpz(await readFile(join(out, 'adversarial-fgsm-1_255.npz')), 'npz');
      expect(archive.get('adversarial').shape).toEqual([4, 32, 32, 1]);
    },
  );

  it.skipIf(!hasSharedData)(
    'detect writes detection.json, csv, ROC charts and detector folders, and refuses bad input',
    async () => {
      const model = join(root, 'detect-cnn');
      await cli(
        'model',
        'init',
        '--arch',
        'small-cnn',
        '--classes',
        '2',
        '--width',
        '0.25',
        '--head',
        'paper',
        '--out',
        model,
      );
      const out = join(root, 'detect-run');
      const args = [
        'detect',
        '--model',
        model,
        '--data',
        breastPath,
        '--images',
        '80',
        '--reference',
        '60',
        '--attack',
        'paper-fgsm',
        '--eps',
        '8/255',
        '--detectors',
        'kd,mahalanobis',
        '--protocol',
        'grouped,paper',
        '--adaptive',
        '1',
        '--engine',
        'wasm',
        '--out',
        out,
      ];
      const first = await cli(...args);
      expect(first.stderr).not.toMatch(/error/i);
      expect(first.code).toBe(0);
      const results = JSON.parse(await readFile(join(out, 'detection.json'), 'utf8'));
      expect(results.format).toBe('medrobust-detection');
      const keys = results.rows.map(
        (row: { detector: string; protocol: string; adversary: string }) =>
          `${row.detector}/${row.protocol}/${row.adversary}`,
      );
      expect(keys.sort()).toEqual([
        'kd/grouped/adaptive',
        'kd/grouped/oblivious',
        'kd/paper/oblivious',
        'mahalanobis/grouped/adaptive',
        'mahalanobis/grouped/oblivious',
        'mahalanobis/paper/oblivious',
      ]);
      for (const row of results.rows) {
        expect(row.mean.all.auc).toBeGreaterThanOrEqual(0);
        expect(row.mean.all.auc).toBeLessThanOrEqual(1);
      }
      expect(results.adaptive.map((outcome: { gradient: string }) => outcome.gradient)).toEqual([
        'exact',
        'exact',
      ]);
      expect((await readFile(join(out, 'detection.csv'), 'utf8')).split('\n')[0]).toContain('tpr_at_5_fpr');
      expect((await stat(join(out, 'roc-paper-fgsm-grouped.png'))).size).toBeGreaterThan(1000);
      expect(await readFile(join(out, 'roc-paper-fgsm-grouped.svg'), 'utf8')).toMatch(/^<svg/);
      expect((await stat(join(out, 'roc-paper-fgsm-adaptive.png'))).size).toBeGreaterThan(1000);
      expect((await stat(join(out, 'detectors', 'kd-paper-fgsm', 'detector.json'))).size).toBeGreaterThan(0);
      expect(
        (await stat(join(out, 'detectors', 'mahalanobis-paper-fgsm', 'arrays.npz'))).size,
      ).toBeGreaterThan(0);

      const again = await cli(...args);
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/already holds adversarial images[\s\S]*--resume/);
      const unknown = await cli(
        'detect',
        '--model',
        model,
        '--data',
        breastPath,
        '--detectors',
        'kd,nope',
        '--out',
        out,
      );
      expect(unknown.code).not.toBe(0);
      expect(unknown.stderr).toMatch(/unknown detector 'nope'[\s\S]*choose from: kd, lid/);
    },
    240_000,
  );

  it.skipIf(!hasSharedData)(
    'analyze: curves from attack results, saliency and Grad-CAM panels with their numbers, and refusals',
    async () => {
      const model = join(root, 'analyze-cnn');
      await cli('model', 'init', '--arch', 'small-cnn', '--classes', '2', '--width', '0.25', '--out', model);
      const attackOut = join(root, 'analyze-attack');
      const common = ['--model', model, '--data', breastPath, '--images', '6', '--engine', 'wasm'];
      expect(
        (await cli('attack', ...common, '--attack', 'paper-fgsm', '--eps', '1/255,8/255', '--out', attackOut))
          .code,
      ).toBe(0);

      const curvesOut = join(root, 'analyze-curves');
      const curves = await cli(
        'analyze',
        'curves',
        '--results',
        attackOut,
        '--names',
        'breast',
        '--out',
        curvesOut,
      );
      expect(curves.code).toBe(0);
      const points = JSON.parse(await readFile(join(curvesOut, 'curves.json'), 'utf8'));
      const attackResults = JSON.parse(await readFile(join(attackOut, 'results.json'), 'utf8'));
      // ε = 0 is the clean accuracy, then one point per ε of the run, in ×1/255 units.
      expect(points.points.map((point: { epsilon: number }) => Math.round(point.epsilon * 10) / 10)).toEqual([
        0, 1, 8,
      ]);
      expect(points.points[0].accuracy).toBe(attackResults.clean.accuracy);
      expect(points.points[2].accuracy).toBe(attackResults.entries[1].adversarialAccuracy);
      expect(await readFile(join(curvesOut, 'curves-by-attack.svg'), 'utf8')).toMatch(/ε \(×1\/255\)/);
      expect((await stat(join(curvesOut, 'curves-by-data.png'))).size).toBeGreaterThan(1000);

      const saliencyOut = join(root, 'analyze-saliency');
      const saliency = await cli(
        'analyze',
        'saliency',
        ...common,
        '--images',
        '4',
        '--show',
        '2',
        '--smoothgrad-samples',
        '2',
        '--ig-steps',
        '4',
        '--compare-model',
        model,
        '--compare-data',
        breastPath,
        '--out',
        saliencyOut,
      );
      expect(saliency.stderr).not.toMatch(/error/i);
      expect(saliency.code).toBe(0);
      const numbers = JSON.parse(await readFile(join(saliencyOut, 'saliency.json'), 'utf8'));
      expect(numbers.datasets).toHaveLength(2);
      for (const method of ['gradient', 'smoothgrad', 'integrated-gradients']) {
        const perImage = numbers.datasets[0].methods[method].perImage;
        expect(perImage).toHaveLength(4);
        for (const entry of perImage) {
          expect(entry.aboveThreshold).toBeGreaterThan(0);
          expect(entry.aboveThreshold).toBeLessThanOrEqual(1);
          expect(entry.entropy).toBeGreaterThan(0);
          expect(entry.entropy).toBeLessThanOrEqual(1);
        }
        expect((await stat(join(saliencyOut, `saliency-${method}.png`))).size).toBeGreaterThan(1000);
      }
      // The same model and data twice: the same numbers.
      expect(numbers.datasets[1].methods.gradient.summary).toEqual(
        numbers.datasets[0].methods.gradient.summary,
      );

      const camOut = join(root, 'analyze-gradcam');
      const cam = await cli(
        'analyze',
        'gradcam',
        ...common,
        '--images',
        '4',
        '--attack',
        'paper-fgsm',
        '--eps',
        '8/255',
        '--out',
        camOut,
      );
      expect(cam.code).toBe(0);
      const camNumbers = JSON.parse(await readFile(join(camOut, 'gradcam.json'), 'utf8'));
      expect(camNumbers).toMatchObject({ tap: 'block3', attack: 'paper-fgsm', epsilonText: '8/255' });
      expect(camNumbers.perImage).toHaveLength(4);
      expect(await readFile(join(camOut, 'gradcam.svg'), 'utf8')).toMatch(/guided Grad-CAM/);

      const landscapeOut = join(root, 'analyze-landscape');
      const landscape = await cli(
        'analyze',
        'landscape',
        ...common,
        '--images',
        '2',
        '--second-model',
        model,
        '--hessian',
        '--out',
        landscapeOut,
      );
      expect(landscape.code).toBe(0);
      const surfaces = JSON.parse(await readFile(join(landscapeOut, 'landscape.json'), 'utf8'));
      expect(Object.keys(surfaces.pairs)).toEqual(['own-second', 'own-random', 'random']);
      // The second model is the model itself here: both axes are its own gradient sign, so the mean
      // surface is symmetric in ε₁ and ε₂.
      const own = surfaces.pairs['own-second'].meanSurface;
      expect(own[3][9]).toBeCloseTo(own[9][3], 4);
      expect(surfaces.pairs['own-random'].sharpness.perImage).toHaveLength(2);
      expect(surfaces.hessianTopEigenvalue.perImage).toHaveLength(2);
      expect(await readFile(join(landscapeOut, 'landscape-random-surface.svg'), 'utf8')).toMatch(
        /cross-entropy/,
      );

      const featuresOut = join(root, 'analyze-features');
      const features = await cli(
        'analyze',
        'features',
        ...common,
        '--images',
        '3',
        '--eps',
        '8/255',
        '--out',
        featuresOut,
      );
      expect(features.code).toBe(0);
      const change = JSON.parse(await readFile(join(featuresOut, 'features.json'), 'utf8'));
      expect(change.drawn).toBe('block2');
      expect(change.relativeChange.map((entry: { layer: string }) => entry.layer)).toEqual([
        'input',
        'block1',
        'block2',
        'block3',
      ]);
      // An 8/255 perturbation of a [0, 1] image changes it by a few per cent, never by nothing.
      expect(change.relativeChange[0].mean).toBeGreaterThan(0.005);
      expect(change.relativeChange[0].mean).toBeLessThan(0.1);
      expect((await stat(join(featuresOut, 'features-block2.png'))).size).toBeGreaterThan(1000);

      const embeddingOut = join(root, 'analyze-embedding');
      const embedded = await cli(
        'analyze',
        'embedding',
        ...common,
        '--images',
        '10',
        '--eps',
        '8/255',
        '--perplexity',
        '5',
        '--iterations',
        '200',
        '--out',
        embeddingOut,
      );
      expect(embedded.code).toBe(0);
      const embedding = JSON.parse(await readFile(join(embeddingOut, 'embedding.json'), 'utf8'));
      expect(embedding).toMatchObject({ tap: 'pool', images: 10 });
      expect(embedding.tsne.points).toHaveLength(40);
      expect(embedding.umap.points).toHaveLength(40);
      for (const method of ['tsne', 'umap']) {
        expect(embedding[method].separability.cleanVersusAdversarial).toBeGreaterThanOrEqual(0);
        expect(embedding[method].separability.cleanVersusAdversarial).toBeLessThanOrEqual(1);
      }
      const tooFew = await cli('analyze', 'embedding', ...common, '--images', '10', '--out', embeddingOut);
      expect(tooFew.code).not.toBe(0);
      expect(tooFew.stderr).toMatch(
        /t-SNE with perplexity 30 needs at least 91 points, got 20[\s\S]*--images/,
      );

      const lesionOut = join(root, 'analyze-lesion');
      const phantom = ['--model', model, '--data', 'phantom:chest-xray:28', '--engine', 'wasm'];
      const lesion = await cli(
        'analyze',
        'lesion',
        ...phantom,
        '--images',
        '8',
        '--eps',
        '8/255',
        '--out',
        lesionOut,
      );
      expect(lesion.stderr).not.toMatch(/error/i);
      expect(lesion.code).toBe(0);
      const shares = JSON.parse(await readFile(join(lesionOut, 'lesion.json'), 'utf8'));
      expect(shares.summary.images).toBeGreaterThan(0);
      for (const entry of shares.perImage) {
        expect(entry.lesionArea).toBeGreaterThan(0);
        expect(entry.lesionArea).toBeLessThan(0.5);
        expect(entry.perturbationEnergyInside).toBeGreaterThanOrEqual(0);
        expect(entry.perturbationEnergyInside).toBeLessThanOrEqual(1);
      }
      const noMasks = await cli('analyze', 'lesion', ...common, '--images', '4', '--out', lesionOut);
      expect(noMasks.code).toBe(2);
      expect(noMasks.stderr).toMatch(/no lesion masks[\s\S]*phantom:chest-xray:28/);

      const missing = await cli('analyze', 'curves', '--results', join(root, 'nothing'), '--out', curvesOut);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toMatch(/no attack results at[\s\S]*medrobust attack/);
      const half = await cli(
        'analyze',
        'saliency',
        ...common,
        '--compare-model',
        model,
        '--out',
        saliencyOut,
      );
      expect(half.code).toBe(2);
      expect(half.stderr).toMatch(/--compare-data/);
    },
    240_000,
  );

  it.skipIf(!hasSharedData)(
    'analyze capacity and natural train each model once, measure it, and skip it when run again',
    async () => {
      const out = join(root, 'study-capacity');
      const quick = [
        '--epochs',
        '1',
        '--train-images',
        '64',
        '--images',
        '12',
        '--eps',
        '1/255,8/255',
        '--sharpness-images',
        '2',
        '--engine',
        'wasm',
      ];
      const args = [
        'analyze',
        'capacity',
        '--data',
        breastPath,
        '--models',
        'small-cnn@0.25,small-cnn@0.5',
        ...quick,
        '--out',
        out,
      ];
      const first = await cli(...args);
      expect(first.code).toBe(0);
      const study = JSON.parse(await readFile(join(out, 'study.json'), 'utf8'));
      expect(study).toMatchObject({ kind: 'capacity', complete: true });
      expect(
        study.members.map((member: { name: string; width: number }) => [member.name, member.width]),
      ).toEqual([
        ['small-cnn@0.25', 0.25],
        ['small-cnn@0.5', 0.5],
      ]);
      // Twice the width: about four times the convolution parameters.
      expect(study.members[1].parameters / study.members[0].parameters).toBeGreaterThan(3);
      for (const member of study.members) {
        expect(member.accuracy.map((entry: { epsilon: number }) => Math.round(entry.epsilon * 255))).toEqual([
          1, 8,
        ]);
        expect(member.sharpness).toBeGreaterThanOrEqual(0);
      }
      expect((await stat(join(out, 'models', 'small-cnn-0.25', 'model.json'))).size).toBeGreaterThan(0);
      expect((await stat(join(out, 'study-curves.png'))).size).toBeGreaterThan(1000);
      const again = await cli(...args);
      expect(again.code).toBe(0);
      expect(again.stderr).toMatch(
        /small-cnn@0\.25: already measured[\s\S]*small-cnn@0\.5: already measured/,
      );

      const natural = join(root, 'study-natural');
      const both = await cli(
        'analyze',
        'natural',
        '--data',
        `${breastPath},phantom:chest-xray:28,${cifarPath}`,
        '--arch',
        'small-cnn',
        '--width',
        '0.25',
        ...quick,
        '--images',
        '40',
        '--detectors',
        'kd,dfeat',
        '--detect-eps',
        '8/255',
        '--reference',
        '64',
        '--out',
        natural,
      );
      expect(both.code, both.stderr).toBe(0);
      const members = JSON.parse(await readFile(join(natural, 'study.json'), 'utf8')).members;
      expect(members.map((member: { name: string }) => member.name)).toEqual([
        'breastmnist',
        'phantom:chest-xray:28',
        'cifar10_test',
      ]);
      // CIFAR-10 test (32-px RGB, no train split) is matched to BreastMNIST: grey, 28 px, a
      // stratified 20 % held out for measuring.
      expect(both.stderr).toMatch(/cifar10_test: no train split; training on a stratified 80 %/);
      expect(both.stderr).toMatch(/cifar10_test: 32×32 px resized to 28×28/);
      // The file is sorted by class; the held-out part is shuffled, so its first 12 images are not
      // in class order (the study warns when the measured images are, and miss classes).
      expect(both.stderr).not.toMatch(/warning: the first \d+ test images are in class order/);
      const cifarModel = JSON.parse(
        await readFile(join(natural, 'models', 'cifar10_test', 'model.json'), 'utf8'),
      );
      expect(cifarModel.inputShape).toEqual([28, 28, 1]);
      expect(members[2].classes).toHaveLength(10);
      // Detection AUC of every member, under the grouped protocol, in study.json and a figure; the
      // one-epoch CIFAR-10 model classifies 5 of 40 images correctly, too few: said, and kept.
      expect(members[2].detection.rows).toEqual([]);
      expect(members[2].detection.error).toMatch(/at least 10 source images, got 5/);
      expect(both.stderr).toMatch(/cifar10_test: warning: no detection AUC: detection needs at least 10/);
      for (const member of members.slice(0, 2)) {
        expect(member.detection.attack).toBe('paper-pgd');
        expect(member.detection.rows.map((row: { detector: string }) => row.detector)).toEqual([
          'kd',
          'dfeat',
        ]);
        for (const row of member.detection.rows) {
          expect(row.auc).toBeGreaterThanOrEqual(0);
          expect(row.auc).toBeLessThanOrEqual(1);
        }
      }
      expect((await stat(join(natural, 'study-detection.png'))).size).toBeGreaterThan(1000);
      // Other detectors: the models are kept and measured results reused, only detection runs again.
      const detectorsOnly = await cli(
        'analyze',
        'natural',
        '--data',
        `${breastPath},phantom:chest-xray:28,${cifarPath}`,
        '--arch',
        'small-cnn',
        '--width',
        '0.25',
        ...quick,
        '--images',
        '40',
        '--detectors',
        'kd',
        '--detect-eps',
        '8/255',
        '--reference',
        '64',
        '--out',
        natural,
      );
      expect(detectorsOnly.code, detectorsOnly.stderr).toBe(0);
      expect(detectorsOnly.stderr.match(/already measured \(study\.json\); detection only/g)).toHaveLength(3);
      expect(detectorsOnly.stderr).not.toMatch(/epoch 1\/1/);
      const redone = JSON.parse(await readFile(join(natural, 'study.json'), 'utf8')).members;
      expect(redone.map((member: { cleanAccuracy: number }) => member.cleanAccuracy)).toEqual(
        members.map((member: { cleanAccuracy: number }) => member.cleanAccuracy),
      );
      expect(redone[0].detection.rows.map((row: { detector: string }) => row.detector)).toEqual(['kd']);
      const bad = await cli('analyze', 'capacity', '--data', breastPath, '--models', 'resnet9', '--out', out);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/'resnet9' is not ARCH or ARCH@WIDTH/);
    },
    240_000,
  );

  it('doctor lists versions, threads, data and which engines load', async () => {
    const result = await cli('doctor');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^medrobust \d+\.\d+\.\d+, node v\d+/);
    expect(result.stdout).toMatch(
      /tfjs 4\.22\.0, better-sqlite3 [\d.]+ \(SQLite 3\.\d+\.\d+\), sharp [\d.]+/,
    );
    expect(result.stdout).toMatch(/cores +\d+/);
    expect(result.stdout).toMatch(/demo dataset .*breastmnist\.npz/);
    expect(result.stdout).toMatch(/engine wasm +ok +engine=wasm .*threads=\d/);
    expect(result.stdout).toMatch(/engine torch +(ok|unavailable: .+)/);
  });

  it('the demo names a missing dataset file and how to fix it', async () => {
    const result = await cli('demo', '--data', join(root, 'missing.npz'));
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/missing\.npz does not exist[\s\S]*fix: pass a MedMNIST \.npz file/);
  });

  it('the installed binary runs and sets the exit code', async () => {
    const ok = await run(process.execPath, [
      binary,
      'model',
      'init',
      '--arch',
      'small-cnn',
      '--classes',
      '2',
      '--out',
      join(root, 'cnn'),
    ]);
    expect(ok.stdout).toContain('small-cnn');
    const failure = await run(process.execPath, [binary, 'model', 'info', join(root, 'missing')]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(4);
    expect(failure?.stderr).toContain('no such model directory');
  });
});

describe('medrobust serve', () => {
  it('train refuses --train-images that leave a class of a class-sorted file out, with the fix', async () => {
    const root = await mkdtemp(join(tmpdir(), 'medrobust-sorted-'));
    try {
      // A CIFAR-style train split sorted by class: 6 images of class 0, then 6 of class 1.
      const labels = new Uint8Array(12).map((_, index) => (index < 6 ? 0 : 1));
      const path = join(root, 'sorted.npz');
      await writeFile(
        path,
        zipSync({
          'x_train.npy': npyBytes('|u1', [12, 8, 8, 1], new Uint8Array(12 * 64).fill(128)),
          'y_train.npy': npyBytes('|u1', [12], labels),
        }),
      );
      const result = await cli(
        'train',
        '--data',
        path,
        '--train-images',
        '5',
        '--epochs',
        '1',
        '--out',
        join(root, 'm'),
      );
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /the first 5 training images of .*sorted\.npz hold no image of class 1[\s\S]*fix: .*ordered by class/,
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('names a missing model, an empty detector folder and a bad upload limit, with the fix', async () => {
    const root = await mkdtemp(join(tmpdir(), 'medrobust-serve-'));
    try {
      const missing = await cli('serve', '--model', join(root, 'nope'), '--port', '0');
      expect(missing.code).toBe(4);
      expect(missing.stderr).toMatch(/nope: no such model directory[\s\S]*fix: pass a directory written by/);
      const empty = await cli('serve', '--model', join(root, 'nope'), '--detectors', root, '--port', '0');
      expect(empty.code).toBe(4);
      expect(empty.stderr).toMatch(
        /holds no detector \(no detector\.json[\s\S]*fix: pass a folder written by `medrobust detect/,
      );
      const limit = await cli('serve', '--model', root, '--max-upload', '12 parsecs');
      expect(limit.code).toBe(2);
      expect(limit.stderr).toMatch(
        /--max-upload: "12 parsecs" is not a size[\s\S]*fix: give bytes or a size with a unit/,
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

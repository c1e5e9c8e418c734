/**
 * `medrobust run` end to end, through the installed binary: a run killed with SIGKILL (once while
 * the model trains, once between units) and run again equals an uninterrupted run; three shards
 * merged equal one unsharded run; the HTML report opens offline in Debian's chromium and shows its
 * summary. Results are compared on report.json with timings and provenance removed.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunStore } from '../../src/node/run-store.ts';

const execute = promisify(execFile);
const binary = join(import.meta.dirname, '..', '..', 'bin', 'medrobust.js');
const chromiumPath = '/usr/bin/chromium';

const experiment = {
  name: 'tiny',
  seed: 1,
  engine: 'wasm',
  datasets: [{ name: 'chest', path: 'phantom:chest-xray:16', images: 24, trainImages: 96 }],
  models: [{ name: 'cnn', train: { arch: 'small-cnn', width: 0.25, epochs: 4, batch: 16 } }],
  robustness: { attacks: ['paper-fgsm', 'paper-pgd'], epsilons: ['1/255', '4/255'], examples: 2 },
  detection: { detectors: ['kd', 'lid'], protocols: ['grouped'], reference: 32, splits: 2 },
  analyses: [{ kind: 'gradcam', images: 8, show: 2 }],
};
const unitCount = 7;

let folder = '';
let experimentFile = '';
beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), 'medrobust-run-'));
  experimentFile = join(folder, 'tiny.json');
  writeFileSync(experimentFile, JSON.stringify(experiment));
});
afterAll(() => {
  if (folder !== '') rmSync(folder, { recursive: true, force: true });
});

async function medrobust(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execute(process.execPath, [binary, ...argv], {
      maxBuffer: 1 << 26,
      env: { ...process.env, NO_COLOR: '1' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failure.code ?? 1, stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' };
  }
}

/** report.json without what differs between equal runs: timings, provenance, engine strings. */
function results(run: string): unknown {
  const report = JSON.parse(readFileSync(join(run, 'report.json'), 'utf8')) as Record<string, unknown>;
  delete report.provenance;
  const volatile = /seconds|startedAt|finishedAt|createdAt/i;
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>)
          .filter(([key]) => !volatile.test(key))
          .map(([key, item]) => [key, strip(item)]),
      );
    }
    return value;
  };
  return strip(report);
}

function logEvents(run: string): { event?: string; unit?: string; message?: string }[] {
  const path = join(run, 'run-log.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line));
}

/** Starts a run and SIGKILLs it as soon as `when` holds for its log. */
async function killWhen(run: string, when: (events: ReturnType<typeof logEvents>) => boolean): Promise<void> {
  const child: ChildProcess = spawn(
    process.execPath,
    [binary, 'run', experimentFile, '--out', run, '--no-report'],
    {
      stdio: 'ignore',
    },
  );
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  );
  let finished = false;
  void exited.then(() => {
    finished = true;
  });
  while (!finished && !when(logEvents(run))) await new Promise((resolve) => setTimeout(resolve, 10));
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
}

const doneUnits = (run: string) => {
  const store = RunStore.open(join(run, 'run.sqlite'), { create: false });
  try {
    return store
      .units()
      .filter((unit) => unit.status === 'done')
      .map((unit) => unit.id);
  } finally {
    store.close();
  }
};

describe('medrobust run', () => {
  let reference = '';
  beforeAll(async () => {
    reference = join(folder, 'reference');
    const result = await medrobust('run', experimentFile, '--out', reference);
    expect(result.stderr).not.toMatch(/failed/);
    expect(result.code).toBe(0);
  }, 180_000);

  it('writes every unit, the store and the report', () => {
    expect(doneUnits(reference)).toHaveLength(unitCount);
    for (const file of ['report.json', 'report.md', 'report.html', 'run-log.jsonl'])
      expect(existsSync(join(reference, file)), file).toBe(true);
    const events = logEvents(reference);
    expect(events.filter((event) => event.event === 'unit-done')).toHaveLength(unitCount);
    const report = results(reference) as { complete: boolean; summary: { models: { accuracy: number }[] } };
    expect(report.complete).toBe(true);
    expect(report.summary.models[0]?.accuracy).toBeGreaterThanOrEqual(0);
  });

  it('survives SIGKILL during training and between units, and ends equal to an uninterrupted run', async () => {
    const run = join(folder, 'killed');
    // First kill: while the model trains (once its first epoch is logged and checkpointed).
    const trainLog = join(run, 'units', 'model', 'chest', 'cnn', 'train-log.jsonl');
    await killWhen(
      run,
      () => existsSync(trainLog) && readFileSync(trainLog, 'utf8').trim().split('\n').length >= 1,
    );
    expect(doneUnits(run)).toEqual([]);
    // Second kill: once the model and at least one attack are done.
    await killWhen(run, (events) => events.filter((event) => event.event === 'unit-done').length >= 2);
    const kept = doneUnits(run);
    expect(kept.length).toBeGreaterThanOrEqual(2);
    expect(kept.length).toBeLessThan(unitCount);
    const resumed = await medrobust('run', experimentFile, '--out', run);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`${unitCount - kept.length} units ran, ${kept.length} kept from before`);
    expect(results(run)).toEqual(results(reference));
  }, 240_000);

  it('three shards merged equal one unsharded run', async () => {
    const shards = [1, 2, 3].map((index) => join(folder, `shard-${index}`));
    const outcomes = await Promise.all(
      shards.map((out, index) => medrobust('run', experimentFile, '--shard', `${index + 1}/3`, '--out', out)),
    );
    for (const outcome of outcomes) expect(outcome.code, outcome.stderr).toBe(0);
    const merged = join(folder, 'merged');
    const merge = await medrobust('run', 'merge', ...shards, '--out', merged);
    expect(merge.code, merge.stderr).toBe(0);
    expect(merge.stdout).toContain(`${unitCount} units merged`);
    expect(results(merged)).toEqual(results(reference));
    // Rendering again gives the same report.
    const again = await medrobust('report', merged);
    expect(again.code).toBe(0);
    expect(results(merged)).toEqual(results(reference));
  }, 240_000);

  it('refuses to merge shards of different experiments', async () => {
    const other = join(folder, 'other.json');
    writeFileSync(
      other,
      JSON.stringify({ ...experiment, seed: 2, robustness: undefined, detection: undefined, analyses: [] }),
    );
    const otherRun = join(folder, 'other-run');
    expect((await medrobust('run', other, '--out', otherRun, '--no-report')).code).toBe(0);
    const result = await medrobust('run', 'merge', reference, otherRun, '--out', join(folder, 'bad-merge'));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/fix:/);
  }, 120_000);

  it('names a missing experiment file, bad JSON and a bad shard with a fix', async () => {
    const missing = await medrobust('run', join(folder, 'nope.json'));
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/cannot read the experiment[\s\S]*fix:/);
    const broken = join(folder, 'broken.json');
    writeFileSync(broken, '{"name": "x",');
    const invalid = await medrobust('run', broken);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/not valid JSON[\s\S]*fix:/);
    const shard = await medrobust('run', experimentFile, '--shard', '4/3');
    expect(shard.code).toBe(2);
    expect(shard.stderr).toMatch(/--shard "4\/3"[\s\S]*fix:/);
  });

  it.skipIf(!existsSync(chromiumPath))(
    'the HTML report opens offline in chromium and shows the summary',
    async () => {
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({
        executablePath: chromiumPath,
        args: ['--headless', '--no-sandbox', '--disable-gpu'],
      });
      try {
        const page = await browser.newPage();
        const requests: string[] = [];
        page.on('request', (request) => {
          const url = request.url();
          if (!url.startsWith('file:') && !url.startsWith('data:')) requests.push(url);
        });
        await page.goto(`file://${join(reference, 'report.html')}`);
        await expect.poll(() => page.locator('#summary').isVisible()).toBe(true);
        const models = await page.locator('#summary-models').textContent();
        expect(models).toContain('chest');
        expect(models).toMatch(/\d+\.\d%/);
        expect(await page.locator('#summary-robustness').textContent()).toContain('paper-pgd');
        expect(await page.locator('#summary-detection').textContent()).toContain('lid');
        const images = await page
          .locator('img')
          .evaluateAll((nodes) => nodes.map((node) => (node as HTMLImageElement).naturalWidth));
        expect(images.length).toBeGreaterThan(0);
        expect(images.every((width) => width > 0)).toBe(true);
        expect(requests).toEqual([]);
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});

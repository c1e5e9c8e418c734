/**
 * `medrobust eval --model DIR --data PATH [--split test]`: accuracy and AUC with MedMNIST's
 * evaluator semantics, per-class recall and the confusion matrix, as a table or JSON.
 */
import { Command } from '@commander-js/extra-typings';
import { splits } from '../../src/data/medmnist.ts';
import { evaluateClassifier } from '../../src/models/evaluate.ts';
import { openDataset } from '../../src/node/datasets.ts';
import { loadModel } from '../../src/node/model-directory.ts';
import { engineOption } from '../common-options.ts';
import { datasetOptionsFrom, withDatasetOptions } from '../dataset-options.ts';
import { loadEngineReporting } from '../engine.ts';
import { parseChoice, parseInteger } from '../parse.ts';

export function evalCommand(): Command {
  return withDatasetOptions(new Command('eval'))
    .description('accuracy, AUC, per-class recall and confusion matrix of a model on a dataset split')
    .requiredOption('--model <dir>', 'model directory')
    .requiredOption('--data <path>', 'dataset file or folder')
    .option('--split <name>', `split: ${splits.join(', ')}`, parseChoice('--split', splits), 'test')
    .option('--batch <size>', 'batch size', parseInteger('--batch', 1, 4096), 64)
    .addOption(engineOption())
    .option('--json', 'print JSON')
    .action(async (options) => {
      // The engine first: reading may resize with tfjs (--resize), which needs a backend.
      const engine = await loadEngineReporting(options.engine);
      const dataset = await openDataset(options.data, datasetOptionsFrom(options));
      const set = dataset.read(options.split);
      const { classifier, network } = await loadModel(options.model, engine);
      const result = evaluateClassifier(classifier, set, options.batch);
      network.dispose();
      const summary = {
        model: classifier.info.name,
        data: options.data,
        split: options.split,
        task: set.task,
        count: result.count,
        auc: result.auc,
        accuracy: result.accuracy,
        recall: Object.fromEntries(set.classNames.map((name, index) => [name, result.recall[index] ?? null])),
        confusion: result.confusion,
      };
      if (options.json) {
        process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        return;
      }
      const percent = (value: number | undefined) =>
        value === undefined || Number.isNaN(value) ? '—' : `${(100 * value).toFixed(1)}%`;
      const lines = [
        `model    ${summary.model} on ${options.data} (${options.split}, ${result.count} images, ${set.task})`,
        `AUC      ${Number.isNaN(result.auc) ? '— (one class only)' : result.auc.toFixed(4)}`,
        `accuracy ${percent(result.accuracy)}`,
        ...set.classNames.map((name, index) => `recall   ${name}: ${percent(result.recall[index])}`),
      ];
      if (result.confusion.length > 0) {
        lines.push(
          `confusion (rows: true class, columns: predicted) ${result.confusion.map((row) => `[${row.join(' ')}]`).join(' ')}`,
        );
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

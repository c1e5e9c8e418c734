/**
 * `medrobust data info PATH`: splits, shapes, class names and counts, value range, checksum status.
 */
import { Command } from '@commander-js/extra-typings';
import { openDataset, summarizeSplit } from '../../src/node/datasets.ts';
import { defaultMedmnistBaseUrl, fetchMedmnist } from '../../src/node/fetch-dataset.ts';
import { datasetOptionsFrom, withDatasetOptions } from '../dataset-options.ts';

export function dataCommand(): Command {
  const data = new Command('data').description('inspect datasets');
  withDatasetOptions(data.command('info'))
    .description('print splits, shapes, classes and counts, value range and md5 status of a dataset')
    .argument('<path>', 'a MedMNIST or CIFAR-style .npz file, or a folder of IDX files')
    .option('--json', 'print JSON')
    .action(async (path, options) => {
      const dataset = await openDataset(path, datasetOptionsFrom(options));
      for (const skipped of dataset.skipped?.slice(0, 20) ?? [])
        process.stderr.write(`skipped  ${skipped.file}: ${skipped.reason}\n`);
      const first = dataset.splits[0];
      const sample = first === undefined ? undefined : dataset.read(first);
      const summaries = dataset.splits.map((split) => summarizeSplit(split, dataset.read(split)));
      const checksum =
        dataset.checksum === undefined
          ? dataset.format === 'phantom'
            ? 'synthetic data, no file to check'
            : 'not checked (folder)'
          : dataset.checksum.status === 'verified'
            ? `md5 ${dataset.checksum.md5}: matches the official release`
            : `md5 ${dataset.checksum.md5}: not an official file name, not checked`;
      if (options.json) {
        const report = {
          path,
          format: dataset.format,
          task: sample?.task,
          classNames: sample?.classNames,
          checksum: dataset.checksum ?? null,
          splits: summaries,
        };
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      const lines = [
        `dataset  ${path} (${dataset.format}${sample === undefined ? '' : `, ${sample.task}`})`,
        `checksum ${checksum}`,
        `classes  ${sample?.classNames.map((name, index) => `${index} ${name}`).join('; ') ?? '—'}`,
        ...summaries.map(
          (summary) =>
            `${summary.split.padEnd(8)} ${summary.count} images ${summary.shape.join('×')}, values ${summary.minimum.toFixed(3)}…${summary.maximum.toFixed(3)}, per class ${summary.classCounts.join(' / ')}`,
        ),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  data
    .command('fetch')
    .description(
      'download an official MedMNIST file (e.g. pneumoniamnist, chestmnist_224) and verify its md5',
    )
    .argument('<name>', 'flag, optionally with _64, _128 or _224')
    .option('--cache <dir>', 'where to keep datasets (default: $MEDROBUST_CACHE or ~/.cache/medrobust)')
    .option('--base-url <url>', `where the files are served (default: ${defaultMedmnistBaseUrl})`)
    .action(async (name, options) => {
      const result = await fetchMedmnist(name, {
        ...(options.cache === undefined ? {} : { cacheDirectory: options.cache }),
        ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }),
      });
      process.stdout.write(
        `${result.downloaded ? 'downloaded' : 'already cached'} ${result.path} (md5 ${result.md5} verified)\n`,
      );
    });
  return data;
}

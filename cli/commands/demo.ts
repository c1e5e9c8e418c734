/**
 * `medrobust demo`: the whole pipeline on real data in a few minutes, with no network. It runs the
 * preset experiments/demo.json (a small CNN trained on the BreastMNIST ultrasound set shipped in
 * data/, attacked with the paper's FGSM and PGD and with APGD-CE, four of the paper's detectors at
 * ε = 1/255, and four of its analyses) into runs/demo, prints the report's summary and writes
 * report.html, report.md and report.json. Run again, it keeps every finished unit; `--data FILE`
 * runs the same protocol on another dataset (Ma et al., Pattern Recognition 2021, on any MedMNIST file).
 */
import { Command, Option } from '@commander-js/extra-typings';
import { engineNames } from '../../src/engine/load-engine.ts';
import { parseChoice } from '../parse.ts';
import { executeRun } from './run.ts';

export function demoCommand() {
  return new Command('demo')
    .description(
      'train, attack, detect and analyse on BreastMNIST (shipped) or --data FILE, then write an HTML report (experiments/demo.json)',
    )
    .option(
      '--data <file>',
      'run the demo on this dataset instead (a MedMNIST .npz, image folder, phantom:KIND)',
    )
    .option('--out <dir>', 'run folder', 'runs/demo')
    .addOption(
      new Option('--engine <name>', `engine: ${engineNames.join(', ')}`).argParser(
        parseChoice('--engine', engineNames),
      ),
    )
    .action(async (options) => {
      await executeRun('demo', {
        out: options.out,
        ...(options.data === undefined ? {} : { data: [options.data] }),
        ...(options.engine === undefined ? {} : { engine: options.engine }),
        report: true,
        printSummary: true,
      });
    });
}

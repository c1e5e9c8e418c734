/**
 * The medrobust command line. Thin: parse → validate → library call → write artefacts.
 */
import { Command, CommanderError } from '@commander-js/extra-typings';
import { analyzeCommand } from './commands/analyze.ts';
import { attackCommand } from './commands/attack.ts';
import { dataCommand } from './commands/data.ts';
import { demoCommand } from './commands/demo.ts';
import { detectCommand } from './commands/detect.ts';
import { doctorCommand } from './commands/doctor.ts';
import { evalCommand } from './commands/eval.ts';
import { modelCommand } from './commands/model.ts';
import { reportCommand, runCommand } from './commands/run.ts';
import { serveCommand } from './commands/serve.ts';
import { trainCommand } from './commands/train.ts';
import { describeError, exitCodeOf } from './errors.ts';
import { usageExitCode } from './exit-codes.ts';

export function createProgram(): Command {
  return (
    new Command('medrobust')
      .description(
        'adversarial robustness of medical image classifiers: train, attack, understand, detect, report',
      )
      .version('0.1.0')
      .exitOverride()
      // Options belong to the command they follow (`run merge A B --out M`: merge's --out, not run's).
      .enablePositionalOptions()
      .addCommand(modelCommand())
      .addCommand(dataCommand())
      .addCommand(evalCommand())
      .addCommand(attackCommand())
      .addCommand(detectCommand())
      .addCommand(analyzeCommand())
      .addCommand(trainCommand())
      .addCommand(doctorCommand())
      .addCommand(runCommand())
      .addCommand(reportCommand())
      .addCommand(serveCommand())
      .addCommand(demoCommand())
  );
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = createProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed the usage message; help and version exit successfully.
      return error.exitCode === 0 ? 0 : usageExitCode;
    }
    process.stderr.write(`medrobust: ${describeError(error)}\n`);
    return exitCodeOf(error);
  }
}

/**
 * The schema of `results.json` written by `medrobust attack` (validated before writing and when
 * resuming). Version it when fields change meaning.
 */
import { z } from 'zod';

export const robustnessResultsVersion = 1;

const entry = z
  .object({
    attack: z.string(),
    epsilon: z.number().min(0),
    epsilonText: z.string(),
    norm: z.enum(['linf', 'l2']),
    images: z.number().int().nonnegative(),
    cleanAccuracy: z.number(),
    adversarialAccuracy: z.number(),
    adversarialAccuracyOnCorrect: z.number(),
    successRate: z.number(),
    auc: z.number().nullable(),
    recall: z.record(z.string(), z.number().nullable()),
    diseaseToHealthyFlipRate: z.number().nullable(),
    meanL2: z.number(),
    maxL2: z.number(),
    meanLinf: z.number(),
    maxLinf: z.number(),
    seconds: z.number(),
    file: z.string(),
  })
  .strict();

export const robustnessResultsSchema = z
  .object({
    format: z.literal('medrobust-robustness'),
    version: z.literal(robustnessResultsVersion),
    createdAt: z.string(),
    /** What must match for --resume to reuse the entries. */
    configuration: z
      .object({
        model: z.string(),
        data: z.string(),
        split: z.string(),
        images: z.number().int(),
        attacks: z.array(z.object({ name: z.string(), options: z.record(z.string(), z.unknown()) }).strict()),
        epsilons: z.array(z.number()),
        seed: z.number().int(),
        batch: z.number().int(),
        healthyClass: z.string().nullable(),
      })
      .strict(),
    engine: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
    clean: z
      .object({
        accuracy: z.number(),
        auc: z.number().nullable(),
        recall: z.record(z.string(), z.number().nullable()),
      })
      .strict(),
    entries: z.array(entry),
    worstCase: z.array(
      z
        .object({
          epsilon: z.number(),
          epsilonText: z.string(),
          attacks: z.array(z.string()),
          adversarialAccuracy: z.number(),
          adversarialAccuracyOnCorrect: z.number(),
        })
        .strict(),
    ),
    flags: z.array(
      z
        .object({
          code: z.string(),
          severity: z.enum(['warning', 'error']),
          message: z.string(),
          docs: z.string(),
        })
        .strict(),
    ),
    complete: z.boolean(),
  })
  .strict();

export type RobustnessResultsFile = z.output<typeof robustnessResultsSchema>;
export type RobustnessEntryRecord = RobustnessResultsFile['entries'][number];

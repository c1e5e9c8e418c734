/**
 * The units of work of an experiment, in one deterministic order, each with a config hash that
 * covers its settings, the seed and the hashes of the units it reads (so changing a model's recipe
 * redoes everything downstream of it, and nothing else). Engine choice is not hashed: it is recorded
 * per unit instead.
 *
 *   model/D/M              train (or load) model M for dataset D, evaluate it on D's split
 *   attack/D/M/A/ε         one attack at one ε (a minimisation attack: one unit for the whole grid)
 *   detect/D/M             the detection study: every attack × detector × protocol
 *   analysis/D/M/NAME      one analysis (saliency, gradcam, landscape, features, embedding, lesion)
 *
 * Sharding (--shard K/N) gives unit i (0-based, in this order) to shard (i mod N) + 1.
 */
import { createHash } from 'node:crypto';
import { getAttack } from '../../src/attacks/registry.ts';
import { MedrobustError } from '../../src/core/errors.ts';
import type {
  AnalysisSettings,
  AttackRequestSettings,
  Experiment,
  ExperimentDataset,
  ExperimentModel,
} from '../../src/evaluation/experiment/schema.ts';
import { epsilonSlug } from '../registry-listing.ts';

interface UnitBase {
  readonly id: string;
  readonly position: number;
  readonly hash: string;
  /** Ids of the units whose outputs this one reads. */
  readonly needs: readonly string[];
  readonly dataset: ExperimentDataset;
  readonly model: ExperimentModel;
}

export interface ModelUnit extends UnitBase {
  readonly kind: 'model';
}

export interface AttackUnit extends UnitBase {
  readonly kind: 'attack';
  readonly attack: AttackRequestSettings;
  readonly epsilons: readonly number[];
}

export interface DetectUnit extends UnitBase {
  readonly kind: 'detect';
}

export interface AnalysisUnit extends UnitBase {
  readonly kind: 'analysis';
  readonly analysis: AnalysisSettings;
}

export type Unit = ModelUnit | AttackUnit | DetectUnit | AnalysisUnit;
type UnitDraft = Unit extends infer U ? (U extends Unit ? Omit<U, 'position' | 'hash'> : never) : never;

/** JSON with object keys sorted, so equal settings hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function hashOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

/** The (dataset, model) pairs of an experiment, datasets first. */
export function pairsOf(experiment: Experiment): { dataset: ExperimentDataset; model: ExperimentModel }[] {
  return experiment.datasets.flatMap((dataset) =>
    experiment.models
      .filter((model) => model.datasets === undefined || model.datasets.includes(dataset.name))
      .map((model) => ({ dataset, model })),
  );
}

export const modelUnitId = (dataset: string, model: string) => `model/${dataset}/${model}`;

/** The model a unit's folder name-space uses, with the data settings that change what it reads. */
function modelConfig(dataset: ExperimentDataset, model: ExperimentModel, seed: number) {
  return { kind: 'model', dataset, model: { name: model.name, train: model.train, load: model.load }, seed };
}

export function planUnits(experiment: Experiment): Unit[] {
  const units: Unit[] = [];
  const hashes = new Map<string, string>();
  const add = (unit: UnitDraft, config: unknown) => {
    if (hashes.has(unit.id)) {
      throw new MedrobustError('invalid-argument', `the experiment has two units named ${unit.id}`, {
        hint: 'list each attack (with the same options) once, and give repeated analyses their own "name"',
      });
    }
    const hash = hashOf({ config, needs: unit.needs.map((id) => hashes.get(id)) });
    hashes.set(unit.id, hash);
    units.push({ ...unit, position: units.length, hash } as Unit);
  };
  const pairs = pairsOf(experiment);
  for (const { dataset, model } of pairs) {
    add(
      { kind: 'model', id: modelUnitId(dataset.name, model.name), needs: [], dataset, model },
      modelConfig(dataset, model, experiment.seed),
    );
  }
  for (const { dataset, model } of pairs) {
    const needs = [modelUnitId(dataset.name, model.name)];
    const robustness = experiment.robustness;
    if (robustness !== undefined) {
      for (const attack of robustness.attacks) {
        const grid = attack.epsilons ?? robustness.epsilons;
        const minimisation = getAttack(attack.name).kind !== 'fixed-epsilon';
        const groups = minimisation ? [grid] : grid.map((epsilon) => [epsilon]);
        for (const epsilons of groups) {
          const slug = minimisation ? 'all' : epsilonSlug(epsilons[0] ?? 0);
          add(
            {
              kind: 'attack',
              id: `attack/${dataset.name}/${model.name}/${attack.name}/${slug}`,
              needs,
              dataset,
              model,
              attack,
              epsilons,
            },
            {
              kind: 'attack',
              attack: { name: attack.name, options: attack.options },
              epsilons,
              batch: robustness.batch,
              examples: robustness.examples,
              examplesAt: [1 / 255, Math.max(...grid)],
              seed: experiment.seed,
            },
          );
        }
      }
    }
    if (experiment.detection !== undefined) {
      add(
        { kind: 'detect', id: `detect/${dataset.name}/${model.name}`, needs, dataset, model },
        { kind: 'detect', detection: experiment.detection, seed: experiment.seed },
      );
    }
    for (const analysis of experiment.analyses) {
      const second =
        analysis.kind === 'landscape' && analysis.secondModel !== undefined
          ? modelUnitId(dataset.name, analysis.secondModel)
          : undefined;
      if (second !== undefined && !hashes.has(second)) {
        throw new MedrobustError(
          'invalid-argument',
          `analysis "${analysis.name ?? analysis.kind}" compares with model "${(analysis as { secondModel: string }).secondModel}", which is not used with dataset "${dataset.name}"`,
          { hint: 'list that model for the same datasets (its "datasets" field), or drop secondModel' },
        );
      }
      add(
        {
          kind: 'analysis',
          id: `analysis/${dataset.name}/${model.name}/${analysis.name ?? analysis.kind}`,
          needs: second === undefined ? needs : [...needs, second],
          dataset,
          model,
          analysis,
        },
        { kind: 'analysis', analysis, seed: experiment.seed },
      );
    }
  }
  return units;
}

export interface Shard {
  readonly index: number;
  readonly count: number;
}

export function parseShard(text: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (match === null || count < 1 || index < 1 || index > count) {
    throw new MedrobustError('invalid-argument', `--shard "${text}" is not K/N with 1 ≤ K ≤ N`, {
      hint: 'e.g. --shard 2/3 runs the second of three shards; run `medrobust run merge` on their folders afterwards',
    });
  }
  return { index, count };
}

/** The units a shard owns, and the prerequisites it must also run (not owned). */
export function shardUnits(
  units: readonly Unit[],
  shard: Shard | undefined,
): { unit: Unit; owned: boolean }[] {
  if (shard === undefined) return units.map((unit) => ({ unit, owned: true }));
  const owned = new Set(
    units.filter((unit) => unit.position % shard.count === shard.index - 1).map((unit) => unit.id),
  );
  const needed = new Set<string>();
  const byId = new Map(units.map((unit) => [unit.id, unit]));
  const visit = (id: string) => {
    if (needed.has(id)) return;
    needed.add(id);
    for (const need of byId.get(id)?.needs ?? []) visit(need);
  };
  for (const id of owned) visit(id);
  return units.filter((unit) => needed.has(unit.id)).map((unit) => ({ unit, owned: owned.has(unit.id) }));
}

/** The folder of a unit's artefacts, relative to the run folder. */
export const unitFolder = (id: string) => `units/${id}`;

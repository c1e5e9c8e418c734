/**
 * The report of an experiment run (`medrobust report RUN_DIR`), built only from the run store's
 * unit rows, so a merged sharded run and a one-machine run give the same report. Order follows the
 * paper's questions (Ma et al., Pattern Recognition 2021): a summary (clean performance, robust
 * accuracy at the paper's ε = 1/255, the detection-AUC table, flags), then the paper-equivalent
 * tables and figures (accuracy under attack per ε with the per-image worst case, Fig. 3's curves,
 * example images, detection AUCs and ROC curves, the analyses), then provenance.
 */
import { formatEpsilon } from '../core/epsilon.ts';
import { type Flag, flagDocs } from '../evaluation/checks.ts';
import { comparisonFlags } from '../evaluation/robustness.ts';

export const reportFormatVersion = 1;

/** The paper's headline budget (Ma et al. 2021 §3.2: ε = 1/255 already fools every model). */
export const paperEpsilon = 1 / 255;

/** A run store row as the report reads it. */
export interface ReportUnit {
  readonly id: string;
  readonly kind: string;
  readonly status: string;
  readonly seconds: number | null;
  readonly engine: string | null;
  readonly metrics: unknown;
  readonly artefacts: readonly string[];
  readonly error: string | null;
}

interface ModelMetrics {
  readonly model: string;
  readonly parameters: number;
  readonly classNames: readonly string[];
  readonly split: string;
  readonly images: number;
  readonly accuracy: number;
  readonly auc: number | null;
  readonly recall: Readonly<Record<string, number | null>>;
  readonly training: {
    readonly epochs: number;
    readonly bestEpoch: number;
    readonly bestValidationAuc: number;
  } | null;
  readonly flags: readonly (Flag & { docs: string })[];
}

export interface AttackEntryMetrics {
  readonly attack: string;
  readonly epsilon: number;
  readonly epsilonText: string;
  readonly norm: string;
  readonly images: number;
  readonly cleanAccuracy: number;
  readonly adversarialAccuracy: number;
  readonly adversarialAccuracyOnCorrect: number;
  readonly successRate: number;
  readonly auc: number | null;
  readonly recall: Readonly<Record<string, number | null>>;
  readonly diseaseToHealthyFlipRate: number | null;
  readonly meanL2: number;
  readonly meanLinf: number;
  readonly maxLinf: number;
  readonly seconds: number;
  readonly file: string;
  /** '1' per image the model still gets right. */
  readonly robust: string;
}

interface AttackMetrics {
  readonly clean: { readonly accuracy: number; readonly auc: number | null };
  readonly entries: readonly AttackEntryMetrics[];
}

interface DetectionMetricsRow {
  readonly detector: string;
  readonly attack: string;
  readonly protocol: string;
  readonly adversary: string;
  readonly mean: {
    readonly all: { readonly auc: number | null; readonly truePositiveRateAt5: number | null };
  };
  readonly standardDeviation: { readonly all: { readonly auc: number | null } };
}

interface DetectMetrics {
  readonly cleanAccuracy: number;
  readonly sourceImages: number;
  readonly epsilon: number;
  readonly epsilonText: string;
  readonly attacks: readonly { attack: string; successRate: number }[];
  readonly rows: readonly DetectionMetricsRow[];
  readonly crossAttack: readonly {
    detector: string;
    trainedOn: string;
    testedOn: string;
    auc: number | null;
  }[];
  readonly adaptive: readonly unknown[];
}

export interface Figure {
  readonly title: string;
  /** Relative to the run folder. */
  readonly path: string;
}

export interface ReportFlag {
  readonly scope: string;
  readonly code: string;
  readonly severity: string;
  readonly message: string;
  readonly docs: string;
}

export interface RunReport {
  readonly format: 'medrobust-report';
  readonly version: number;
  readonly experiment: { readonly name: string; readonly description: string | null };
  readonly complete: boolean;
  readonly summary: {
    readonly paperEpsilon: string;
    readonly models: readonly {
      readonly dataset: string;
      readonly model: string;
      readonly architecture: string;
      readonly parameters: number;
      readonly split: string;
      readonly images: number;
      readonly accuracy: number;
      readonly auc: number | null;
      readonly recall: Readonly<Record<string, number | null>>;
    }[];
    /** Accuracy under each attack at the paper's ε (or the grid's closest ε), and the worst case. */
    readonly robustness: readonly {
      readonly dataset: string;
      readonly model: string;
      readonly epsilon: string;
      readonly clean: number;
      readonly attacks: Readonly<Record<string, number>>;
      readonly worstCase: number | null;
    }[];
    /** Detection AUC (oblivious attacker, mean over splits) per detector and protocol. */
    readonly detection: readonly {
      readonly dataset: string;
      readonly model: string;
      readonly attack: string;
      readonly epsilon: string;
      readonly detector: string;
      readonly protocol: string;
      readonly auc: number | null;
      readonly aucSd: number | null;
    }[];
    readonly flags: readonly ReportFlag[];
    readonly failures: readonly { readonly unit: string; readonly status: string; readonly error: string }[];
  };
  readonly robustness: readonly {
    readonly dataset: string;
    readonly model: string;
    readonly clean: { readonly accuracy: number; readonly auc: number | null };
    readonly entries: readonly Omit<AttackEntryMetrics, 'robust'>[];
    readonly worstCase: readonly {
      readonly epsilon: number;
      readonly epsilonText: string;
      readonly attacks: readonly string[];
      readonly adversarialAccuracy: number;
      readonly adversarialAccuracyOnCorrect: number;
    }[];
    readonly figures: readonly Figure[];
  }[];
  readonly detection: readonly {
    readonly dataset: string;
    readonly model: string;
    readonly epsilon: string;
    readonly sourceImages: number;
    readonly attacks: DetectMetrics['attacks'];
    readonly rows: readonly {
      readonly detector: string;
      readonly attack: string;
      readonly protocol: string;
      readonly adversary: string;
      readonly auc: number | null;
      readonly aucSd: number | null;
      readonly truePositiveRateAt5: number | null;
    }[];
    readonly crossAttack: DetectMetrics['crossAttack'];
    readonly adaptive: readonly unknown[];
    readonly figures: readonly Figure[];
  }[];
  readonly analyses: readonly {
    readonly dataset: string;
    readonly model: string;
    readonly name: string;
    readonly kind: string;
    /** The analysis's top-level numbers (scalars of its JSON, two levels deep). */
    readonly highlights: readonly { readonly name: string; readonly value: number | string }[];
    readonly figures: readonly Figure[];
  }[];
  readonly units: readonly {
    readonly id: string;
    readonly kind: string;
    readonly status: string;
    readonly seconds: number | null;
    readonly engine: string | null;
  }[];
  readonly provenance: Readonly<Record<string, unknown>>;
}

export interface ReportInput {
  readonly experiment: { readonly name: string; readonly description?: string | undefined };
  /** The planned unit ids, in order (a unit without a row has not run yet). */
  readonly planned: readonly string[];
  readonly units: readonly ReportUnit[];
  readonly provenance: Readonly<Record<string, unknown>>;
}

const pairKey = (dataset: string, model: string) => `${dataset}/${model}`;

function pairOf(id: string): { dataset: string; model: string; rest: string } {
  const [, dataset = '', model = '', ...rest] = id.split('/');
  return { dataset, model, rest: rest.join('/') };
}

/** The scalars of an analysis's JSON worth a line in the report (numbers and short strings, two levels). */
function highlightsOf(numbers: unknown): { name: string; value: number | string }[] {
  const found: { name: string; value: number | string }[] = [];
  const skip = new Set([
    'format',
    'version',
    'createdAt',
    'seconds',
    'engine',
    'seed',
    'batch',
    'images',
    'files',
  ]);
  const visit = (value: unknown, path: string, depth: number) => {
    if (found.length >= 16 || value === null || value === undefined) return;
    if (typeof value === 'number') {
      if (Number.isFinite(value)) found.push({ name: path, value });
      return;
    }
    if (typeof value === 'string') return;
    if (Array.isArray(value) || typeof value !== 'object' || depth >= 2) return;
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      if (skip.has(key)) continue;
      visit(item, path === '' ? key : `${path}.${key}`, depth + 1);
    }
  };
  visit(numbers, '', 0);
  return found;
}

const pngFigures = (artefacts: readonly string[], title: (file: string) => string): Figure[] =>
  artefacts.filter((path) => path.endsWith('.png')).map((path) => ({ title: title(path), path }));

const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1).replace(/\.png$/, '');

/** The report of a run's rows. `curveFigure` names where the accuracy-vs-ε chart of a pair is drawn. */
export function buildRunReport(
  input: ReportInput,
  curveFigure: (dataset: string, model: string) => string,
): RunReport {
  const rows = new Map(input.units.map((unit) => [unit.id, unit]));
  const done = (kind: string) => input.units.filter((unit) => unit.kind === kind && unit.status === 'done');
  const flags: ReportFlag[] = [];
  const failures = input.units
    .filter((unit) => unit.status === 'failed' || unit.status === 'skipped')
    .map((unit) => ({ unit: unit.id, status: unit.status, error: unit.error ?? '' }));

  const models = done('model').map((unit) => {
    const metrics = unit.metrics as ModelMetrics & { architecture: { arch: string; width?: number } };
    const { dataset, model } = pairOf(unit.id);
    for (const flag of metrics.flags) flags.push({ scope: unit.id, ...flag });
    return {
      dataset,
      model,
      architecture: metrics.model,
      parameters: metrics.parameters,
      split: metrics.split,
      images: metrics.images,
      accuracy: metrics.accuracy,
      auc: metrics.auc,
      recall: metrics.recall,
    };
  });

  // Attack entries grouped by (dataset, model), in unit order.
  const byPair = new Map<
    string,
    { dataset: string; model: string; clean: AttackMetrics['clean']; entries: AttackEntryMetrics[] }
  >();
  for (const unit of done('attack')) {
    const { dataset, model } = pairOf(unit.id);
    const metrics = unit.metrics as AttackMetrics;
    const key = pairKey(dataset, model);
    const group = byPair.get(key) ?? { dataset, model, clean: metrics.clean, entries: [] };
    group.entries.push(...metrics.entries);
    byPair.set(key, group);
  }
  const robustness = [...byPair.values()].map((group) => {
    const epsilons = [...new Set(group.entries.map((entry) => entry.epsilon))].sort((a, b) => a - b);
    const worstCase = epsilons.map((epsilon) => {
      const at = group.entries.filter((entry) => entry.epsilon === epsilon);
      const count = at[0]?.images ?? 0;
      let robust = 0;
      for (let image = 0; image < count; image++)
        if (at.every((entry) => entry.robust[image] === '1')) robust++;
      const correct = Math.round((at[0]?.cleanAccuracy ?? 0) * count);
      return {
        epsilon,
        epsilonText: formatEpsilon(epsilon),
        attacks: at.map((entry) => entry.attack),
        adversarialAccuracy: count === 0 ? 0 : robust / count,
        adversarialAccuracyOnCorrect: correct === 0 ? 0 : robust / correct,
      };
    });
    for (const flag of comparisonFlags(group.entries)) {
      flags.push({ scope: pairKey(group.dataset, group.model), ...flag, docs: flagDocs(flag) });
    }
    const examples = input.units
      .filter(
        (unit) =>
          unit.kind === 'attack' &&
          unit.status === 'done' &&
          unit.id.startsWith(`attack/${pairKey(group.dataset, group.model)}/`),
      )
      .flatMap((unit) =>
        pngFigures(
          unit.artefacts,
          (path) => `clean (top) and adversarial (bottom): ${baseName(path).replace(/^examples-/, '')}`,
        ),
      );
    return {
      dataset: group.dataset,
      model: group.model,
      clean: group.clean,
      entries: group.entries.map(({ robust: _robust, ...entry }) => entry),
      worstCase,
      figures: [
        {
          title: 'accuracy against ε, per attack and worst case',
          path: curveFigure(group.dataset, group.model),
        },
        ...examples,
      ],
    };
  });

  const summaryRobustness = robustness.map((group) => {
    const epsilons = [...new Set(group.entries.map((entry) => entry.epsilon))];
    const closest = epsilons.reduce(
      (best, epsilon) => (Math.abs(epsilon - paperEpsilon) < Math.abs(best - paperEpsilon) ? epsilon : best),
      epsilons[0] ?? paperEpsilon,
    );
    return {
      dataset: group.dataset,
      model: group.model,
      epsilon: formatEpsilon(closest),
      clean: group.clean.accuracy,
      attacks: Object.fromEntries(
        group.entries
          .filter((entry) => entry.epsilon === closest)
          .map((entry) => [entry.attack, entry.adversarialAccuracy]),
      ),
      worstCase: group.worstCase.find((entry) => entry.epsilon === closest)?.adversarialAccuracy ?? null,
    };
  });

  const detection = done('detect').map((unit) => {
    const { dataset, model } = pairOf(unit.id);
    const metrics = unit.metrics as DetectMetrics;
    return {
      dataset,
      model,
      epsilon: metrics.epsilonText,
      sourceImages: metrics.sourceImages,
      attacks: metrics.attacks,
      rows: metrics.rows.map((row) => ({
        detector: row.detector,
        attack: row.attack,
        protocol: row.protocol,
        adversary: row.adversary,
        auc: row.mean.all.auc,
        aucSd: row.standardDeviation.all.auc,
        truePositiveRateAt5: row.mean.all.truePositiveRateAt5,
      })),
      crossAttack: metrics.crossAttack,
      adaptive: metrics.adaptive,
      figures: pngFigures(unit.artefacts, (path) => `ROC: ${baseName(path).replace(/^roc-/, '')}`),
    };
  });
  const summaryDetection = detection.flatMap((group) =>
    group.rows
      .filter((row) => row.adversary === 'oblivious')
      .map((row) => ({
        dataset: group.dataset,
        model: group.model,
        attack: row.attack,
        epsilon: group.epsilon,
        detector: row.detector,
        protocol: row.protocol,
        auc: row.auc,
        aucSd: row.aucSd,
      })),
  );

  const analyses = done('analysis').map((unit) => {
    const { dataset, model, rest } = pairOf(unit.id);
    const metrics = unit.metrics as { kind: string; numbers: unknown };
    return {
      dataset,
      model,
      name: rest,
      kind: metrics.kind,
      highlights: highlightsOf(metrics.numbers),
      figures: pngFigures(unit.artefacts, baseName),
    };
  });

  return {
    format: 'medrobust-report',
    version: reportFormatVersion,
    experiment: { name: input.experiment.name, description: input.experiment.description ?? null },
    complete: input.planned.every((id) => rows.get(id)?.status === 'done'),
    summary: {
      paperEpsilon: formatEpsilon(paperEpsilon),
      models,
      robustness: summaryRobustness,
      detection: summaryDetection,
      flags,
      failures,
    },
    robustness,
    detection,
    analyses,
    units: input.planned.map((id) => {
      const unit = rows.get(id);
      return {
        id,
        kind: id.split('/')[0] ?? '',
        status: unit?.status ?? 'pending',
        seconds: unit?.seconds ?? null,
        engine: unit?.engine ?? null,
      };
    }),
    provenance: input.provenance,
  };
}

const percent = (value: number | null | undefined) =>
  value === null || value === undefined || !Number.isFinite(value) ? '—' : `${(100 * value).toFixed(1)}%`;
const decimal = (value: number | null | undefined, digits = 3) =>
  value === null || value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits);
const formatValue = (value: number | string) =>
  typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toPrecision(4)) : value;

interface Table {
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** The report's tables, shared by the Markdown and HTML renderers. */
function tables(report: RunReport) {
  const attackNames = [...new Set(report.summary.robustness.flatMap((row) => Object.keys(row.attacks)))];
  const models: Table = {
    header: ['dataset', 'model', 'parameters', 'images', 'accuracy', 'AUC', 'recall per class'],
    rows: report.summary.models.map((row) => [
      row.dataset,
      row.model,
      row.parameters.toLocaleString('en-US'),
      `${row.images} (${row.split})`,
      percent(row.accuracy),
      decimal(row.auc),
      Object.entries(row.recall)
        .map(([name, value]) => `${name} ${percent(value)}`)
        .join('; '),
    ]),
  };
  const robustness: Table = {
    header: ['dataset', 'model', 'ε', 'clean', ...attackNames, 'worst case'],
    rows: report.summary.robustness.map((row) => [
      row.dataset,
      row.model,
      row.epsilon,
      percent(row.clean),
      ...attackNames.map((name) => percent(row.attacks[name])),
      percent(row.worstCase),
    ]),
  };
  const protocols = [...new Set(report.summary.detection.map((row) => row.protocol))];
  const detectionKeys = [
    ...new Set(
      report.summary.detection.map(
        (row) => `${row.dataset}\u0000${row.model}\u0000${row.attack}\u0000${row.detector}`,
      ),
    ),
  ];
  const detection: Table = {
    header: [
      'dataset',
      'model',
      'attack',
      'ε',
      'detector',
      ...protocols.map((protocol) => `AUC (${protocol})`),
    ],
    rows: detectionKeys.map((key) => {
      const [dataset = '', model = '', attack = '', detector = ''] = key.split('\u0000');
      const at = report.summary.detection.filter(
        (row) =>
          row.dataset === dataset &&
          row.model === model &&
          row.attack === attack &&
          row.detector === detector,
      );
      return [
        dataset,
        model,
        attack,
        at[0]?.epsilon ?? '',
        detector,
        ...protocols.map((protocol) => {
          const row = at.find((candidate) => candidate.protocol === protocol);
          return row === undefined ? '—' : `${decimal(row.auc)} ± ${decimal(row.aucSd, 3)}`;
        }),
      ];
    }),
  };
  return { models, robustness, detection };
}

function entryTable(
  entries: RunReport['robustness'][number]['entries'],
  worstCase: RunReport['robustness'][number]['worstCase'],
): Table {
  return {
    header: [
      'attack',
      'ε',
      'accuracy',
      'on correct',
      'success',
      'AUC',
      'disease→healthy',
      'mean L2',
      'max L∞',
    ],
    rows: [
      ...entries.map((entry) => [
        entry.attack,
        entry.epsilonText,
        percent(entry.adversarialAccuracy),
        percent(entry.adversarialAccuracyOnCorrect),
        percent(entry.successRate),
        decimal(entry.auc),
        percent(entry.diseaseToHealthyFlipRate),
        decimal(entry.meanL2, 4),
        decimal(entry.maxLinf * 255, 2),
      ]),
      ...worstCase.map((entry) => [
        'worst case',
        entry.epsilonText,
        percent(entry.adversarialAccuracy),
        percent(entry.adversarialAccuracyOnCorrect),
        '',
        '',
        '',
        '',
        '',
      ]),
    ],
  };
}

function detectionTable(group: RunReport['detection'][number]): Table {
  return {
    header: ['detector', 'attack', 'protocol', 'adversary', 'AUC', 'sd', 'TPR at 5% FPR'],
    rows: group.rows.map((row) => [
      row.detector,
      row.attack,
      row.protocol,
      row.adversary,
      decimal(row.auc),
      decimal(row.aucSd),
      percent(row.truePositiveRateAt5),
    ]),
  };
}

function markdownTable(table: Table): string {
  const escapeCell = (cell: string) => cell.replace(/\|/g, '\\|');
  return [
    `| ${table.header.map(escapeCell).join(' | ')} |`,
    `|${table.header.map(() => ' --- ').join('|')}|`,
    ...table.rows.map((row) => `| ${row.map(escapeCell).join(' | ')} |`),
  ].join('\n');
}

function provenanceLines(report: RunReport): [string, string][] {
  return Object.entries(report.provenance)
    .filter(([key]) => key !== 'experiment')
    .map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]);
}

function textTable(table: Table): string {
  const widths = table.header.map((cell, column) =>
    Math.max(cell.length, ...table.rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (row: readonly string[]) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(table.header), ...table.rows.map(line)].join('\n');
}

/** The report's summary as plain text for a terminal: the three summary tables and the flags. */
export function reportSummaryText(report: RunReport): string {
  const { models, robustness, detection } = tables(report);
  const parts = ['Clean performance', textTable(models)];
  if (robustness.rows.length > 0)
    parts.push(
      '',
      `Accuracy under attack at the paper's ε (${report.summary.paperEpsilon})`,
      textTable(robustness),
    );
  if (detection.rows.length > 0)
    parts.push('', 'Detection AUC (oblivious attacker, mean ± sd over splits)', textTable(detection));
  const flags = [
    ...report.summary.flags.map((flag) => `${flag.code} (${flag.severity}, ${flag.scope}): ${flag.message}`),
    ...report.summary.failures.map((failure) => `${failure.status} ${failure.unit}: ${failure.error}`),
  ];
  parts.push('', flags.length === 0 ? 'No flags.' : `Flags:\n${flags.map((flag) => `  ${flag}`).join('\n')}`);
  return parts.join('\n');
}

/** The report as Markdown; figure links are relative to the run folder (where report.md is written). */
export function reportMarkdown(report: RunReport): string {
  const { models, robustness, detection } = tables(report);
  const lines: string[] = [`# ${report.experiment.name}`, ''];
  if (report.experiment.description !== null) lines.push(report.experiment.description, '');
  if (!report.complete)
    lines.push('**This run is not complete**: some units have not run or failed (see _Units_).', '');
  lines.push('## Summary', '', '### Clean performance', '', markdownTable(models), '');
  if (robustness.rows.length > 0)
    lines.push(
      `### Accuracy under attack at the paper's ε (${report.summary.paperEpsilon})`,
      '',
      markdownTable(robustness),
      '',
    );
  if (detection.rows.length > 0)
    lines.push(
      '### Detection AUC (oblivious attacker, mean ± sd over splits)',
      '',
      markdownTable(detection),
      '',
    );
  lines.push('### Flags', '');
  if (report.summary.flags.length === 0 && report.summary.failures.length === 0)
    lines.push('No flags: gradients finite and non-zero, outputs are logits, attacks rank as expected.', '');
  for (const flag of report.summary.flags)
    lines.push(`- **${flag.code}** (${flag.severity}, ${flag.scope}): ${flag.message} — ${flag.docs}`);
  for (const failure of report.summary.failures)
    lines.push(`- **${failure.status}** ${failure.unit}: ${failure.error}`);
  lines.push('');
  for (const group of report.robustness) {
    lines.push(
      `## Robustness: ${group.dataset} / ${group.model}`,
      '',
      `Clean accuracy ${percent(group.clean.accuracy)}, AUC ${decimal(group.clean.auc)}.`,
      '',
      markdownTable(entryTable(group.entries, group.worstCase)),
      '',
    );
    for (const figure of group.figures) lines.push(`![${figure.title}](${figure.path})`, '');
  }
  for (const group of report.detection) {
    lines.push(
      `## Detection: ${group.dataset} / ${group.model} at ε = ${group.epsilon}`,
      '',
      `${group.sourceImages} correctly classified source images; attack success ${group.attacks.map((attack) => `${attack.attack} ${percent(attack.successRate)}`).join(', ')}.`,
      '',
      markdownTable(detectionTable(group)),
      '',
    );
    for (const figure of group.figures) lines.push(`![${figure.title}](${figure.path})`, '');
  }
  for (const analysis of report.analyses) {
    lines.push(
      `## Analysis ${analysis.name} (${analysis.kind}): ${analysis.dataset} / ${analysis.model}`,
      '',
    );
    if (analysis.highlights.length > 0)
      lines.push(
        markdownTable({
          header: ['number', 'value'],
          rows: analysis.highlights.map((item) => [item.name, formatValue(item.value)]),
        }),
        '',
      );
    for (const figure of analysis.figures) lines.push(`![${figure.title}](${figure.path})`, '');
  }
  lines.push(
    '## Provenance',
    '',
    markdownTable({ header: ['', ''], rows: provenanceLines(report) }),
    '',
    '### Units',
    '',
    markdownTable({
      header: ['unit', 'status', 'seconds', 'engine'],
      rows: report.units.map((unit) => [unit.id, unit.status, decimal(unit.seconds, 1), unit.engine ?? '']),
    }),
    '',
  );
  return `${lines.join('\n')}\n`;
}

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function htmlTable(table: Table, id?: string): string {
  const head = table.header.map((cell) => `<th>${escapeHtml(cell)}</th>`).join('');
  const body = table.rows
    .map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table${id === undefined ? '' : ` id="${id}"`}><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

const style = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI","DejaVu Sans",sans-serif;margin:0;color:#1d2330;background:#fafbfc}
main{max-width:1100px;margin:0 auto;padding:24px 32px 64px}
h1{font-size:26px;margin:8px 0 4px}h2{font-size:20px;margin:36px 0 8px;border-bottom:1px solid #dde2ea;padding-bottom:4px}h3{font-size:16px;margin:20px 0 6px}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #dde2ea;padding:8px 32px;font-size:14px;z-index:1}nav a{margin-right:16px;color:#2457a6;text-decoration:none}
table{border-collapse:collapse;margin:8px 0 16px;background:#fff;font-variant-numeric:tabular-nums}th,td{border:1px solid #dde2ea;padding:4px 10px;text-align:left}th{background:#eef2f7}
figure{display:inline-block;margin:8px 16px 16px 0;vertical-align:top;max-width:100%}figure img{max-width:100%;border:1px solid #dde2ea;background:#fff}figcaption{font-size:13px;color:#566}
.warning{color:#8a5300}.error{color:#b00020}.note{color:#566}details{margin:8px 0}pre{white-space:pre-wrap;background:#fff;border:1px solid #dde2ea;padding:8px;font-size:12px}
`;

/**
 * The report as one self-contained HTML page: every figure inlined as a data URI (`figureData`
 * returns a PNG's bytes, or undefined when the file is missing), no script, no request.
 */
export function reportHtml(report: RunReport, figureData: (path: string) => Uint8Array | undefined): string {
  const { models, robustness, detection } = tables(report);
  const figure = (item: Figure) => {
    const bytes = figureData(item.path);
    if (bytes === undefined) return `<p class="note">missing figure ${escapeHtml(item.path)}</p>`;
    return `<figure><img alt="${escapeHtml(item.title)}" src="data:image/png;base64,${Buffer.from(bytes).toString('base64')}"><figcaption>${escapeHtml(item.title)}</figcaption></figure>`;
  };
  const parts: string[] = [];
  parts.push(`<h1>${escapeHtml(report.experiment.name)}</h1>`);
  if (report.experiment.description !== null)
    parts.push(`<p>${escapeHtml(report.experiment.description)}</p>`);
  if (!report.complete)
    parts.push(
      '<p class="warning"><strong>This run is not complete</strong>: some units have not run or failed (see Units).</p>',
    );
  parts.push(
    '<section id="summary"><h2>Summary</h2><h3>Clean performance</h3>',
    htmlTable(models, 'summary-models'),
  );
  if (robustness.rows.length > 0)
    parts.push(
      `<h3>Accuracy under attack at the paper's ε (${escapeHtml(report.summary.paperEpsilon)})</h3>`,
      htmlTable(robustness, 'summary-robustness'),
    );
  if (detection.rows.length > 0)
    parts.push(
      '<h3>Detection AUC (oblivious attacker, mean ± sd over splits)</h3>',
      htmlTable(detection, 'summary-detection'),
    );
  parts.push('<h3>Flags</h3><ul id="summary-flags">');
  if (report.summary.flags.length === 0 && report.summary.failures.length === 0)
    parts.push(
      '<li class="note">No flags: gradients finite and non-zero, outputs are logits, attacks rank as expected.</li>',
    );
  for (const flag of report.summary.flags)
    parts.push(
      `<li class="${flag.severity === 'error' ? 'error' : 'warning'}"><strong>${escapeHtml(flag.code)}</strong> (${escapeHtml(flag.scope)}): ${escapeHtml(flag.message)} <span class="note">${escapeHtml(flag.docs)}</span></li>`,
    );
  for (const failure of report.summary.failures)
    parts.push(
      `<li class="error"><strong>${escapeHtml(failure.status)}</strong> ${escapeHtml(failure.unit)}: ${escapeHtml(failure.error)}</li>`,
    );
  parts.push('</ul></section>');
  if (report.robustness.length > 0) parts.push('<section id="robustness">');
  for (const group of report.robustness) {
    parts.push(
      `<h2>Robustness: ${escapeHtml(group.dataset)} / ${escapeHtml(group.model)}</h2><p>Clean accuracy ${percent(group.clean.accuracy)}, AUC ${decimal(group.clean.auc)}.</p>`,
      htmlTable(entryTable(group.entries, group.worstCase)),
      ...group.figures.map(figure),
    );
  }
  if (report.robustness.length > 0) parts.push('</section>');
  if (report.detection.length > 0) parts.push('<section id="detection">');
  for (const group of report.detection) {
    parts.push(
      `<h2>Detection: ${escapeHtml(group.dataset)} / ${escapeHtml(group.model)} at ε = ${escapeHtml(group.epsilon)}</h2><p>${group.sourceImages} correctly classified source images; attack success ${escapeHtml(group.attacks.map((attack) => `${attack.attack} ${percent(attack.successRate)}`).join(', '))}.</p>`,
      htmlTable(detectionTable(group)),
      ...group.figures.map(figure),
    );
  }
  if (report.detection.length > 0) parts.push('</section>');
  if (report.analyses.length > 0) parts.push('<section id="analyses">');
  for (const analysis of report.analyses) {
    parts.push(
      `<h2>Analysis ${escapeHtml(analysis.name)} (${escapeHtml(analysis.kind)}): ${escapeHtml(analysis.dataset)} / ${escapeHtml(analysis.model)}</h2>`,
    );
    if (analysis.highlights.length > 0)
      parts.push(
        htmlTable({
          header: ['number', 'value'],
          rows: analysis.highlights.map((item) => [item.name, formatValue(item.value)]),
        }),
      );
    parts.push(...analysis.figures.map(figure));
  }
  if (report.analyses.length > 0) parts.push('</section>');
  parts.push(
    '<section id="provenance"><h2>Provenance</h2>',
    htmlTable({ header: ['', ''], rows: provenanceLines(report) }),
    '<h3>Units</h3>',
    htmlTable({
      header: ['unit', 'status', 'seconds', 'engine'],
      rows: report.units.map((unit) => [unit.id, unit.status, decimal(unit.seconds, 1), unit.engine ?? '']),
    }),
    `<details><summary>Experiment</summary><pre>${escapeHtml(JSON.stringify(report.provenance.experiment ?? null, null, 2))}</pre></details></section>`,
  );
  const nav = ['summary', 'robustness', 'detection', 'analyses', 'provenance']
    .filter((id) => parts.some((part) => part.includes(`id="${id}"`)))
    .map((id) => `<a href="#${id}">${id[0]?.toUpperCase()}${id.slice(1)}</a>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${escapeHtml(report.experiment.name)}: medrobust report</title><style>${style}</style></head>
<body><nav>${nav}</nav><main>
${parts.join('\n')}
</main></body></html>
`;
}

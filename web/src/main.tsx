/**
 * medrobust's guarded-inference page: pick or upload an image, see the model's prediction with its
 * Grad-CAM and whether the adversarial-input detectors flag it; then attack it at a chosen ε and see
 * the adversarial image, the amplified perturbation, the new prediction and the detectors' verdict
 * (Ma et al., Pattern Recognition 2021: imperceptible perturbations flip medical classifiers, and
 * detectors can catch them). Lists the experiment runs the server knows with links to their reports.
 */
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  ApiError,
  type AttackResponse,
  attack,
  type Example,
  getExamples,
  getModel,
  getRuns,
  type ModelInfo,
  type Prediction,
  type PredictResponse,
  predict,
  type Run,
} from './api.ts';
import './style.css';

const attackChoices = ['pgd', 'fgsm', 'bim', 'apgd-ce', 'apgd-dlr', 'square'] as const;
/** The slider runs over ε = 0 … 16/255 in steps of 0.5/255 (the paper's budgets are 0.1–10/255). */
const sliderMaximum = 32;

function percent(value: number | undefined): string {
  return value === undefined ? '—' : `${(100 * value).toFixed(1)} %`;
}

function describeError(error: unknown): { message: string; hint?: string } {
  if (error instanceof ApiError)
    return { message: error.message, ...(error.hint === undefined ? {} : { hint: error.hint }) };
  return { message: error instanceof Error ? error.message : String(error) };
}

function ErrorBox({ error }: { error: unknown }) {
  if (error === undefined) return null;
  const { message, hint } = describeError(error);
  return (
    <div class="error" role="alert">
      <strong>{message}</strong>
      {hint === undefined ? null : <div>fix: {hint}</div>}
    </div>
  );
}

function Verdict({ prediction, id }: { prediction: Prediction; id: string }) {
  const flagged = prediction.detectors
    .filter((detector) => detector.adversarial)
    .map((detector) => detector.id);
  if (prediction.detectors.length === 0) {
    return (
      <p id={id} class="verdict unguarded" data-flagged="none">
        No detectors loaded: this prediction is unguarded.
      </p>
    );
  }
  return flagged.length === 0 ? (
    <p id={id} class="verdict clean" data-flagged="false">
      Not flagged: no detector calls this image adversarial.
    </p>
  ) : (
    <p id={id} class="verdict flagged" data-flagged="true">
      Flagged as adversarial by {flagged.join(', ')}.
    </p>
  );
}

function PredictionView({ prediction, id }: { prediction: Prediction; id: string }) {
  return (
    <div class="prediction">
      <p class="label" id={`${id}-label`}>
        {prediction.className}{' '}
        <span class="probability">{percent(prediction.probabilities[prediction.className])}</span>
      </p>
      <ul class="bars">
        {Object.entries(prediction.probabilities).map(([name, probability]) => (
          <li key={name}>
            <span class="bar-name">{name}</span>
            <span class="bar">
              <span style={{ width: `${(100 * probability).toFixed(1)}%` }} />
            </span>
            <span class="bar-value">{percent(probability)}</span>
          </li>
        ))}
      </ul>
      <Verdict prediction={prediction} id={`${id}-verdict`} />
      {prediction.detectors.length === 0 ? null : (
        <table class="detectors">
          <thead>
            <tr>
              <th>detector</th>
              <th>score</th>
              <th>threshold</th>
              <th>verdict</th>
            </tr>
          </thead>
          <tbody>
            {prediction.detectors.map((detector) => (
              <tr key={detector.id} class={detector.adversarial ? 'flagged' : ''}>
                <td>{detector.id}</td>
                <td>{detector.score.toFixed(4)}</td>
                <td>{detector.threshold.toFixed(4)}</td>
                <td>{detector.adversarial ? 'adversarial' : 'clean'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function Figure({ src, caption, id }: { src: string | undefined; caption: string; id?: string }) {
  return (
    <figure>
      {src === undefined ? <div class="placeholder" /> : <img id={id} src={src} alt={caption} />}
      <figcaption>{caption}</figcaption>
    </figure>
  );
}

function AttackPanel({ image }: { image: Blob }) {
  const [name, setName] = useState<string>('pgd');
  const [step, setStep] = useState(0);
  const [result, setResult] = useState<AttackResponse>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const latest = useRef(0);
  const epsilonText = `${step / 2}/255`;

  useEffect(() => {
    const request = ++latest.current;
    const timer = setTimeout(() => {
      setBusy(true);
      attack(image, name, epsilonText).then(
        (response) => {
          if (request !== latest.current) return;
          setResult(response);
          setError(undefined);
          setBusy(false);
        },
        (failure: unknown) => {
          if (request !== latest.current) return;
          setError(failure);
          setBusy(false);
        },
      );
    }, 200);
    return () => clearTimeout(timer);
  }, [image, name, epsilonText]);

  return (
    <section class="panel" id="attack">
      <h2>Attack it</h2>
      <div class="controls">
        <label>
          attack{' '}
          <select id="attack-name" value={name} onChange={(event) => setName(event.currentTarget.value)}>
            {attackChoices.map((choice) => (
              <option key={choice} value={choice}>
                {choice}
              </option>
            ))}
          </select>
        </label>
        <label class="slider">
          ε = <output id="epsilon-value">{epsilonText}</output>
          <input
            id="epsilon"
            type="range"
            min={0}
            max={sliderMaximum}
            step={1}
            value={step}
            onInput={(event) => setStep(Number(event.currentTarget.value))}
          />
        </label>
        <span class="status" id="attack-status" data-busy={busy ? 'true' : 'false'}>
          {busy
            ? 'attacking…'
            : result === undefined
              ? ''
              : `L∞ = ${(result.linf * 255).toFixed(2)}/255 in ${result.timings.attackMs?.toFixed(0)} ms`}
        </span>
      </div>
      <ErrorBox error={error} />
      {result === undefined ? null : (
        <div class="result" data-epsilon={result.epsilon}>
          <div class="figures">
            <Figure src={result.adversarialImage} caption="adversarial image" id="adversarial-image" />
            <Figure src={result.perturbation} caption="perturbation (±ε → black/white)" id="perturbation" />
            <Figure src={result.attacked.gradCam} caption="Grad-CAM, adversarial" />
          </div>
          <PredictionView prediction={result.attacked} id="attacked" />
        </div>
      )}
    </section>
  );
}

function Runs() {
  const [runs, setRuns] = useState<Run[]>();
  useEffect(() => {
    getRuns().then(setRuns, () => setRuns([]));
  }, []);
  if (runs === undefined || runs.length === 0) return null;
  return (
    <section class="panel" id="runs">
      <h2>Experiment runs</h2>
      <ul>
        {runs.map((run) => (
          <li key={run.name}>
            <a href={run.report.replace(/^\//, '')} target="_blank" rel="noreferrer">
              {run.name}
            </a>{' '}
            <span class="muted">
              {run.experiment}
              {run.complete ? '' : ' (incomplete)'} · {new Date(run.modified).toLocaleString()} ·{' '}
              {run.models
                .map((model) => `${model.dataset}/${model.model} accuracy ${percent(model.accuracy)}`)
                .join(', ')}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function App() {
  const [model, setModel] = useState<ModelInfo>();
  const [examples, setExamples] = useState<Example[]>([]);
  const [image, setImage] = useState<Blob>();
  const [result, setResult] = useState<PredictResponse>();
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    getModel().then(setModel, setError);
    getExamples().then(setExamples, () => setExamples([]));
  }, []);

  const choose = (blob: Blob) => {
    setImage(blob);
    setResult(undefined);
    setError(undefined);
    predict(blob).then(setResult, setError);
  };

  const pickExample = async (example: Example) => {
    const response = await fetch(example.image.replace(/^\//, ''));
    choose(await response.blob());
  };

  return (
    <main>
      <header>
        <h1>medrobust · guarded inference</h1>
        {model === undefined ? null : (
          <p class="muted" id="model-summary">
            {model.name}: {model.architecture}, {model.inputShape.join('×')}, classes{' '}
            {model.classNames.join(' / ')}, {model.detectors.length} detector(s) (
            {model.detectors.map((detector) => detector.id).join(', ') || 'none'}), engine{' '}
            {String(model.engine.engine)}
          </p>
        )}
      </header>
      <section class="panel" id="input">
        <h2>Image</h2>
        <label class="upload">
          Upload a PNG, JPEG or DICOM file{' '}
          <input
            id="upload"
            type="file"
            accept="image/png,image/jpeg,application/dicom,.dcm"
            onChange={(event) => {
              const file = event.currentTarget.files?.[0];
              if (file !== undefined) choose(file);
            }}
          />
        </label>
        {examples.length === 0 ? null : (
          <div class="examples">
            <span>or pick an example:</span>
            {examples.map((example) => (
              <button
                type="button"
                key={example.id}
                class="example"
                data-example={example.id}
                title={example.className}
                onClick={() => void pickExample(example)}
              >
                <img
                  src={example.image.replace(/^\//, '')}
                  alt={`example ${example.id}: ${example.className}`}
                />
                <span>{example.className}</span>
              </button>
            ))}
          </div>
        )}
      </section>
      <ErrorBox error={error} />
      {image === undefined ? null : (
        <section class="panel" id="prediction">
          <h2>Prediction</h2>
          <div class="figures">
            <Figure src={result?.image} caption="model input" id="input-image" />
            <Figure src={result?.gradCam} caption={`Grad-CAM (${result?.className ?? '…'})`} />
          </div>
          {result === undefined ? (
            <p class="muted">classifying…</p>
          ) : (
            <PredictionView prediction={result} id="clean" />
          )}
        </section>
      )}
      {image !== undefined && model?.attacks === true ? <AttackPanel image={image} /> : null}
      <Runs />
    </main>
  );
}

const root = document.getElementById('app');
if (root !== null) render(<App />, root);

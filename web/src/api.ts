/** The server's API as the page uses it (server/app.ts documents every route). */

export interface DetectorVerdict {
  readonly id: string;
  readonly name: string;
  readonly score: number;
  readonly threshold: number;
  readonly adversarial: boolean;
}

export interface Prediction {
  readonly label: number;
  readonly className: string;
  readonly probabilities: Readonly<Record<string, number>>;
  readonly adversarial: boolean;
  readonly detectors: readonly DetectorVerdict[];
  readonly gradCam?: string;
}

export interface PredictResponse extends Prediction {
  /** The model's input (the upload decoded, cropped and resized), as a PNG data URI. */
  readonly image: string;
  readonly input: Readonly<Record<string, unknown>>;
  readonly timings: Readonly<Record<string, number>>;
}

export interface AttackResponse {
  readonly attack: string;
  readonly epsilon: number;
  readonly linf: number;
  readonly image: string;
  readonly adversarialImage: string;
  readonly perturbation: string;
  readonly clean: Prediction;
  readonly attacked: Prediction;
  readonly timings: Readonly<Record<string, number>>;
}

export interface ModelInfo {
  readonly name: string;
  readonly architecture: string;
  readonly inputShape: readonly number[];
  readonly classNames: readonly string[];
  readonly parameters: number;
  readonly detectors: readonly { id: string; name: string; threshold: number }[];
  readonly engine: Readonly<Record<string, unknown>>;
  readonly attacks: boolean;
}

export interface Example {
  readonly id: number;
  readonly className: string;
  readonly image: string;
}

export interface Run {
  readonly name: string;
  readonly experiment: string;
  readonly complete: boolean;
  readonly modified: string;
  readonly models: readonly { dataset: string; model: string; accuracy: number; auc: number | null }[];
  readonly report: string;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly hint: string | undefined,
    readonly status: number,
  ) {
    super(message);
  }
}

async function json<T>(response: Response): Promise<T> {
  const body = await response.json().catch(() => undefined);
  if (!response.ok) {
    const error = (body as { error?: { message?: string; hint?: string } } | undefined)?.error;
    throw new ApiError(error?.message ?? `HTTP ${response.status}`, error?.hint, response.status);
  }
  return body as T;
}

export const getModel = () => fetch('v1/model').then((response) => json<ModelInfo>(response));
export const getExamples = () => fetch('v1/examples').then((response) => json<Example[]>(response));
export const getRuns = () => fetch('v1/runs').then((response) => json<Run[]>(response));

export function predict(image: Blob): Promise<PredictResponse> {
  const form = new FormData();
  form.append('image', image, 'image');
  return fetch('v1/predict?gradcam=1', { method: 'POST', body: form }).then((response) =>
    json<PredictResponse>(response),
  );
}

export function attack(image: Blob, name: string, epsilon: string): Promise<AttackResponse> {
  const form = new FormData();
  form.append('attack', name);
  form.append('epsilon', epsilon);
  form.append('gradcam', '1');
  form.append('image', image, 'image');
  return fetch('v1/attack', { method: 'POST', body: form }).then((response) =>
    json<AttackResponse>(response),
  );
}

/**
 * Prometheus metrics of the server (prom-client, a registry of its own so several servers in one
 * process — the tests — do not share counters): requests by route, method and status; a latency
 * histogram by route; predictions and flags by detector; the pool's busy workers and queue; and
 * prom-client's default process metrics (CPU, memory, event-loop lag).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ModelDescription, Prediction } from './guarded-model.ts';
import type { PoolStatistics } from './worker-pool.ts';

export interface ServerMetrics {
  readonly contentType: string;
  observe(route: string, method: string, status: number, seconds: number): void;
  verdict(prediction: Prediction): void;
  text(): Promise<string>;
}

export function createMetrics(model: ModelDescription, statistics: () => PoolStatistics): ServerMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ model: model.name });
  collectDefaultMetrics({ register: registry, prefix: 'medrobust_' });
  const requests = new Counter({
    name: 'medrobust_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'medrobust_http_request_duration_seconds',
    help: 'HTTP request latency in seconds, by route',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const predictions = new Counter({
    name: 'medrobust_predictions_total',
    help: 'images classified, by predicted class',
    labelNames: ['class'] as const,
    registers: [registry],
  });
  const flagged = new Counter({
    name: 'medrobust_flagged_total',
    help: 'images flagged as adversarial, by detector ("any" counts images flagged by at least one)',
    labelNames: ['detector'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'medrobust_workers_busy',
    help: 'inference workers running a request',
    registers: [registry],
    collect() {
      this.set(statistics().busy);
    },
  });
  new Gauge({
    name: 'medrobust_queue_depth',
    help: 'requests waiting for an inference worker',
    registers: [registry],
    collect() {
      this.set(statistics().queued);
    },
  });
  // Zero-valued series exist from the start, so a dashboard's rate() has something to read.
  flagged.inc({ detector: 'any' }, 0);
  for (const detector of model.detectors) flagged.inc({ detector: detector.id }, 0);
  return {
    contentType: registry.contentType,
    observe(route, method, status, seconds) {
      requests.inc({ route, method, status: String(status) });
      latency.observe({ route }, seconds);
    },
    verdict(prediction) {
      predictions.inc({ class: prediction.className });
      for (const detector of prediction.detectors)
        if (detector.adversarial) flagged.inc({ detector: detector.id });
      if (prediction.adversarial) flagged.inc({ detector: 'any' });
    },
    text: () => registry.metrics(),
  };
}

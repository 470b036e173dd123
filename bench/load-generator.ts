/**
 * A closed-loop HTTP load generator on undici: `concurrency` clients each send a request, wait for
 * the answer, and send the next, for a fixed time. It records every latency, status and the
 * server's Server-Timing stages.
 */
import { Pool } from 'undici';

export interface StageSample {
  downloadMs: number;
  decodeMs: number;
  queueMs: number;
  inferenceMs: number;
  batchSizes: number[];
}

export interface LoadResult {
  requests: number;
  images: number;
  errors: Record<string, number>;
  latenciesMs: number[];
  stages: StageSample[];
  seconds: number;
}

export interface LoadOptions {
  url: string;
  /** Prebuilt request bodies, used in turn. */
  bodies: Buffer[];
  imagesPerRequest: number;
  concurrency: number;
  seconds: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const origin = new URL(options.url).origin;
  const path = new URL(options.url).pathname;
  const pool = new Pool(origin, { connections: options.concurrency, pipelining: 1, keepAliveTimeout: 60_000 });
  const result: LoadResult = {
    requests: 0,
    images: 0,
    errors: {},
    latenciesMs: [],
    stages: [],
    seconds: options.seconds,
  };
  const deadline = performance.now() + options.seconds * 1000;
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (performance.now() < deadline) {
          const body = options.bodies[next++ % options.bodies.length]!;
          const started = performance.now();
          try {
            const response = await pool.request({
              path,
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body,
            });
            const text = await response.body.text();
            const latency = performance.now() - started;
            if (response.statusCode === 200) {
              result.requests++;
              result.images += options.imagesPerRequest;
              result.latenciesMs.push(latency);
              const timing = response.headers['server-timing'];
              if (typeof timing === 'string') result.stages.push(parseServerTiming(timing));
            } else {
              const code = (JSON.parse(text) as { code?: string }).code ?? String(response.statusCode);
              result.errors[code] = (result.errors[code] ?? 0) + 1;
            }
          } catch (error) {
            const code = (error as { code?: string }).code ?? 'NETWORK';
            result.errors[code] = (result.errors[code] ?? 0) + 1;
          }
        }
      }),
    );
  } finally {
    await pool.close();
  }
  return result;
}

export function parseServerTiming(header: string): StageSample {
  const durations: Record<string, number> = {};
  let batchSizes: number[] = [];
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().split(';');
    for (const param of params) {
      const [key, value = ''] = param.split('=');
      if (key === 'dur') durations[name!] = Number(value);
      if (key === 'desc')
        batchSizes = value.replace(/"/g, '').replace('batches', '').trim().split(' ').filter(Boolean).map(Number);
    }
  }
  return {
    downloadMs: durations.download ?? 0,
    decodeMs: durations.decode ?? 0,
    queueMs: durations.queue ?? 0,
    inferenceMs: durations.inference ?? 0,
    batchSizes,
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

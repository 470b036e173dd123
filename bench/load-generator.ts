/**
 * A closed-loop HTTP load generator on undici: `concurrency` clients each send a request, wait for
 * the answer, and send the next, for a fixed time. It records every latency, status and the
 * server's Server-Timing stages. A server may answer before it has read the body (a 503 that sheds
 * load, with Connection: close): undici delivers such an answer and drops the rest of the upload, so
 * it counts as that status; a request that fails on the socket instead (EPIPE, ECONNRESET: the
 * answer was lost) counts under its error code, with its latency.
 */
import { Readable } from 'node:stream';
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
  /** Answers other than 200, by error code (else status), and failures, by their error code. */
  errors: Record<string, number>;
  /** Latencies of the 200s. */
  latenciesMs: number[];
  /** Latencies of everything else, by status ('503') or, for a request that failed, its error code. */
  otherLatenciesMs: Record<string, number[]>;
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
  /**
   * Upload each body in slices, one per turn of the event loop, as a client sending over a network
   * does, instead of handing the whole buffer to the socket at once. On loopback the kernel takes
   * megabytes in one write, which costs the load generator the whole upload even when the server
   * refuses the request after its headers; sent in slices, the upload stops at the answer.
   */
  sliced?: boolean;
}

const SLICE_BYTES = 64 * 1024;

/**
 * One request body per image, each carrying `imagesPerRequest` base64 images starting from it and
 * going round the list: every image is first in one body, and every body holds a mix.
 */
export function rotatingBodies(base64: string[], imagesPerRequest: number): Buffer[] {
  return base64.map((_, first) => {
    const images = Array.from({ length: imagesPerRequest }, (_, i) => ({ data: base64[(first + i) % base64.length] }));
    return Buffer.from(JSON.stringify({ images }));
  });
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
    otherLatenciesMs: {},
    stages: [],
    seconds: options.seconds,
  };
  const deadline = performance.now() + options.seconds * 1000;
  let next = 0;
  const other = (key: string, code: string, latency: number) => {
    result.errors[code] = (result.errors[code] ?? 0) + 1;
    result.otherLatenciesMs[key] ??= [];
    result.otherLatenciesMs[key].push(latency);
  };
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
              headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
              body: options.sliced ? Readable.from(inSlices(body), { objectMode: false }) : body,
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
              const status = String(response.statusCode);
              other(status, errorCode(text) ?? status, latency);
            }
          } catch (error) {
            const code = (error as { code?: string }).code ?? 'NETWORK';
            other(code, code, performance.now() - started);
          }
        }
      }),
    );
  } finally {
    await pool.close();
  }
  return result;
}

async function* inSlices(body: Buffer): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < body.length; offset += SLICE_BYTES) {
    yield body.subarray(offset, offset + SLICE_BYTES);
    await new Promise(setImmediate);
  }
}

/** The API's error code in an error body, if it is one. */
function errorCode(text: string): string | undefined {
  try {
    const code = (JSON.parse(text) as { code?: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
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

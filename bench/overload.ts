/**
 * Load shedding under overload, the bench's own row: the built server with a small pipeline
 * (MAX_QUEUE_IMAGES=16, one worker) and 48 closed-loop clients, each sending 8 base64 JPEGs per
 * request (about 5 MB of JSON) and the next request as soon as the answer comes. Most requests must
 * be refused with 503; what counts is how soon (a refusal is only useful if it is fast), the 200s'
 * latencies apart, the server's event-loop lag meanwhile (bench/event-loop-probe.mjs), and its peak
 * RSS. `BENCH_ONLY=overload npm run bench` runs this alone.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { JPEG_FIXTURES } from './jpeg-load.ts';
import { type LoadResult, percentile, rotatingBodies, runLoad } from './load-generator.ts';
import { type EventLoopLag, startBenchServer } from './server-process.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLIENTS = 48;
const IMAGES_PER_REQUEST = 8;
const SERVER_ENV = { WORKERS: '1', MAX_QUEUE_IMAGES: '16', MAX_IMAGES_PER_REQUEST: String(IMAGES_PER_REQUEST) };
/** The target of issue 15: a shed request costs its client milliseconds. */
export const SHED_P50_TARGET_MS = 50;

export interface Latencies {
  count: number;
  p50Ms: number;
  p95Ms: number;
}

export interface OverloadResult {
  engine: string;
  clients: number;
  imagesPerRequest: number;
  meanBodyBytes: number;
  seconds: number;
  requests: number;
  ok: Latencies;
  shed: Latencies;
  /** Every answer that was neither 200 nor 503, and every failed request, by code. */
  others: Record<string, number>;
  eventLoopLag: EventLoopLag;
  peakRssMb: number;
}

export interface OverloadOptions {
  engines?: string[];
  /** Measured seconds per engine, after one second of the same load to warm up. */
  seconds?: number;
}

export async function measureOverload(options: OverloadOptions = {}): Promise<OverloadResult[]> {
  // tfjs-wasm is the case (the slowest engine, so the fullest pipeline); onnx beside it.
  const { engines = ['tfjs-wasm', 'onnx'], seconds = 2 * Number(process.env.BENCH_SECONDS ?? 5) } = options;
  const bodies = await jpegBodies();
  const results: OverloadResult[] = [];
  for (const engine of engines) {
    const server = await startBenchServer({ ...SERVER_ENV, ENGINE: engine });
    try {
      const load = { url: `${server.origin}/v1/predict`, bodies, imagesPerRequest: IMAGES_PER_REQUEST, sliced: true };
      await runLoad({ ...load, concurrency: CLIENTS, seconds: 1 });
      await server.eventLoopLag();
      const measured = await runLoad({ ...load, concurrency: CLIENTS, seconds });
      const eventLoopLag = await server.eventLoopLag();
      const meanBodyBytes = bodies.reduce((sum, body) => sum + body.length, 0) / bodies.length;
      results.push({
        engine,
        clients: CLIENTS,
        imagesPerRequest: IMAGES_PER_REQUEST,
        meanBodyBytes,
        ...summarise(measured),
        eventLoopLag,
        peakRssMb: server.peakRssMb(),
      });
      const r = results.at(-1)!;
      console.log(
        `overload, ${engine}: ${r.requests} requests, ${r.ok.count} x 200 (p50 ${r.ok.p50Ms.toFixed(0)} ms), ` +
          `${r.shed.count} x 503 (p50 ${r.shed.p50Ms.toFixed(1)} ms, p95 ${r.shed.p95Ms.toFixed(1)} ms), ` +
          `other ${JSON.stringify(r.others)}, event-loop lag p99 ${r.eventLoopLag.p99Ms.toFixed(1)} ms, ` +
          `peak RSS ${r.peakRssMb.toFixed(0)} MB`,
      );
    } finally {
      await server.stop();
    }
  }
  return results;
}

/** The five JPEG fixtures cycled, 8 to a request, each body starting one fixture further. */
async function jpegBodies(): Promise<Buffer[]> {
  const base64 = await Promise.all(
    JPEG_FIXTURES.map(async (name) => (await readFile(path.join(ROOT, 'test/fixtures', name))).toString('base64')),
  );
  return rotatingBodies(base64, IMAGES_PER_REQUEST);
}

function summarise(load: LoadResult) {
  const latencies = (values: number[] = []): Latencies => {
    const sorted = [...values].sort((a, b) => a - b);
    return { count: sorted.length, p50Ms: percentile(sorted, 50), p95Ms: percentile(sorted, 95) };
  };
  const shed = load.otherLatenciesMs['503'] ?? [];
  const others = { ...load.errors };
  // 503s are the expected refusals (SERVICE_OVERLOADED); any other 503 code still shows in `others`.
  if (others.SERVICE_OVERLOADED !== undefined) delete others.SERVICE_OVERLOADED;
  const refusedOtherwise = shed.length - (load.errors.SERVICE_OVERLOADED ?? 0);
  if (refusedOtherwise > 0) others['503 (not SERVICE_OVERLOADED)'] = refusedOtherwise;
  return {
    seconds: load.seconds,
    requests: load.requests + Object.values(load.errors).reduce((sum, n) => sum + n, 0),
    ok: latencies(load.latenciesMs),
    shed: latencies(shed),
    others,
  };
}

/** The bench's target row: the median 503 of the tfjs-wasm run. */
export function overloadTarget(results: OverloadResult[]): { target: string; value: string; met: boolean } {
  const wasm = results.find((r) => r.engine === 'tfjs-wasm') ?? results[0];
  const p50 = wasm?.shed.p50Ms ?? Number.NaN;
  return {
    target: `median 503 <= ${SHED_P50_TARGET_MS} ms under overload (${wasm?.engine ?? 'none'})`,
    value: `${p50.toFixed(0)} ms`,
    met: p50 <= SHED_P50_TARGET_MS,
  };
}

export function overloadMarkdown(results: OverloadResult[]): string {
  const first = results[0];
  if (!first) return '';
  const ms = (value: number) => (Number.isNaN(value) ? '-' : value < 10 ? value.toFixed(1) : value.toFixed(0));
  const lines = [
    `Overload: ${first.clients} clients, each sending ${first.imagesPerRequest} base64 JPEGs per request ` +
      `(the five JPEG fixtures, ${(first.meanBodyBytes / 1e6).toFixed(1)} MB of JSON) and the next as soon as ` +
      `the answer comes, to one worker with MAX_QUEUE_IMAGES=16; ${first.seconds} s.`,
    '',
    '| Engine | Requests | 200 | 503 | Other | 200 p50 ms | 200 p95 ms | 503 p50 ms | 503 p95 ms | ' +
      'Event-loop lag p50 / p99 / max ms | Peak RSS |',
    '| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map((r) => {
      const others =
        Object.entries(r.others)
          .map(([code, n]) => `${code} ${n}`)
          .join(', ') || '0';
      const lag = r.eventLoopLag;
      return (
        `| ${r.engine} | ${r.requests} | ${r.ok.count} | ${r.shed.count} | ${others} | ` +
        `${ms(r.ok.p50Ms)} | ${ms(r.ok.p95Ms)} | ${ms(r.shed.p50Ms)} | ${ms(r.shed.p95Ms)} | ` +
        `${ms(lag.p50Ms)} / ${ms(lag.p99Ms)} / ${ms(lag.maxMs)} | ${r.peakRssMb.toFixed(0)} MB |`
      );
    }),
  ];
  return lines.join('\n');
}

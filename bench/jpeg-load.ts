/**
 * The JPEG-only load: the five JPEG fixtures in base64, 8 per request, from 8 clients, against the
 * onnx server; next to the pipeline bound measured in the same run (decoding these JPEGs and the
 * engine, each alone, on this machine's cores), and where the difference goes: the server's event
 * loop (JSON, base64, HTTP), its garbage collection, and the load generator's own CPU, which shares
 * the machine.
 */
import { decodeBase64Image } from '../lib/images/base64.ts';
import { decodeImage } from '../lib/images/decode.ts';
import { takeLiftedBase64 } from '../lib/json-base64.ts';
import { parseJson } from '../lib/request-body.ts';
import { percentile, rotatingBodies, runLoad } from './load-generator.ts';
import { startBenchServer } from './server-process.ts';

export const JPEG_FIXTURES = ['cat_720p.jpg', 'hot_dog.jpg', 'owl.jpg', 'parrot.jpg', 'kite_and_cold.jpg'];
const IMAGES_PER_REQUEST = 8;
const CLIENTS = 8;

export interface JpegLoadResult {
  imagesPerSecond: number;
  p50Ms: number;
  decodeRate: number;
  engineRate: number;
  /** 1 / (1 / decode rate + 1 / engine rate): both share the same cores. */
  boundImagesPerSecond: number;
  /** Per second of load, in ms (1000 = one core busy all the time). */
  server: { cpuMs: number; eventLoopBusyMs: number; gcMs: number; jsonAndBase64Ms: number };
  loadGeneratorCpuMs: number;
  errors: Record<string, number>;
}

type Rate = (concurrency: number, operation: (i: number) => Promise<unknown>) => Promise<number>;

export async function measureJpegLoad(options: {
  base64: Record<string, string>;
  engineRate: number;
  seconds: number;
  rate: Rate;
}): Promise<JpegLoadResult> {
  const images = JPEG_FIXTURES.map((name) => options.base64[name]!);
  const bodies = rotatingBodies(images, IMAGES_PER_REQUEST);
  const maxBytes = 10 * 2 ** 20;
  const decodeRate = await options.rate(CLIENTS, (i) =>
    decodeImage(
      decodeBase64Image(images[i % images.length]!, maxBytes),
      { width: 224, height: 224 },
      { maxPixels: 5e7 },
    ),
  );
  const boundImagesPerSecond = 1 / (1 / decodeRate + 1 / options.engineRate);

  const server = await startBenchServer({ ENGINE: 'onnx' });
  try {
    const load = {
      url: `${server.origin}/v1/predict`,
      bodies,
      imagesPerRequest: IMAGES_PER_REQUEST,
      concurrency: CLIENTS,
    };
    await runLoad({ ...load, seconds: 1 });
    await server.usage();
    const generatorBefore = process.cpuUsage();
    const result = await runLoad({ ...load, seconds: options.seconds });
    const generator = process.cpuUsage(generatorBefore);
    const usage = await server.usage();
    const perSecond = (ms: number) => (ms * 1000) / usage.wallMs;
    const requestsPerSecond = result.requests / result.seconds;
    const sorted = [...result.latenciesMs].sort((a, b) => a - b);
    return {
      imagesPerSecond: result.images / result.seconds,
      p50Ms: percentile(sorted, 50),
      decodeRate,
      engineRate: options.engineRate,
      boundImagesPerSecond,
      server: {
        cpuMs: perSecond(usage.cpuMs),
        eventLoopBusyMs: 1000 * usage.eventLoopUtilization,
        gcMs: perSecond(usage.gcMs),
        jsonAndBase64Ms: requestsPerSecond * jsonAndBase64Ms(bodies),
      },
      loadGeneratorCpuMs: (generator.user + generator.system) / 1000 / result.seconds,
      errors: result.errors,
    };
  } finally {
    await server.stop();
  }
}

/**
 * What one request's body costs the event loop before decoding, the server's way: parseJson, which
 * decodes the base64 as it parses (lib/json-base64.ts).
 */
function jsonAndBase64Ms(bodies: Buffer[]): number {
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const started = performance.now();
    const parsed = parseJson(bodies[i % bodies.length]!) as { images: object[] };
    for (const image of parsed.images) takeLiftedBase64(image)?.release();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[times.length >> 1]!;
}

export function jpegLoadMarkdown(result: JpegLoadResult): string {
  const ms = (value: number) => `${value.toFixed(0)} ms/s`;
  const errors = Object.entries(result.errors)
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  return [
    '| JPEG-only load (5 JPEG fixtures, 8 per request, 8 clients, onnx) | Images/s | p50 ms | ' +
      'Pipeline bound (decode / engine alone) | Of the bound |',
    '| --- | ---: | ---: | --- | ---: |',
    `| end to end over HTTP${errors ? ` (errors: ${errors})` : ''} | ${result.imagesPerSecond.toFixed(0)} | ` +
      `${result.p50Ms.toFixed(0)} | ${result.boundImagesPerSecond.toFixed(0)} ` +
      `(${result.decodeRate.toFixed(0)} / ${result.engineRate.toFixed(0)}) | ` +
      `${(result.imagesPerSecond / result.boundImagesPerSecond).toFixed(2)} |`,
    '',
    '| Where the CPU went during that load (per second of load; 2,000 ms/s = both cores) | |',
    '| --- | ---: |',
    `| server process, all threads | ${ms(result.server.cpuMs)} |`,
    `| server event loop busy (HTTP, JSON, base64, hand-offs) | ${ms(result.server.eventLoopBusyMs)} |`,
    '| of which parsing the JSON and decoding its base64 (measured apart, times requests/s) | ' +
      `${ms(result.server.jsonAndBase64Ms)} |`,
    `| server garbage collection | ${ms(result.server.gcMs)} |`,
    `| load generator (this process: building, sending and reading requests) | ${ms(result.loadGeneratorCpuMs)} |`,
  ].join('\n');
}

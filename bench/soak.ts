/**
 * The soak: thousands of mixed good and bad requests, at concurrency, against the real server
 * (real model on worker threads, a TF.js engine so that tensors can be counted, real downloads from
 * a local image server). It checks that every good request got correct predictions and every bad
 * one its documented 4xx, that readiness stayed 200 throughout, that the TF.js tensor count came
 * back to its value after warm-up, and that RSS at the end is within RSS_MARGIN of RSS after
 * warm-up.
 *   npm run soak -- [requests, default 3000] [concurrency, default 16]
 * test/integration/soak.test.ts runs a short one.
 */
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { loadConfig } from '../lib/config.ts';
import { isPublicAddress } from '../lib/images/address-policy.ts';
import { createRuntime } from '../lib/runtime.ts';
import { createServer } from '../lib/http/server.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURES = path.join(ROOT, 'test/fixtures');
/** RSS at the end may exceed RSS after warm-up by at most this fraction. */
export const RSS_MARGIN = 0.25;

export interface SoakOptions {
  requests: number;
  concurrency: number;
  engine?: 'tfjs-wasm' | 'onnx';
}

export interface SoakReport {
  requests: number;
  seconds: number;
  byKind: Record<string, { sent: number; asExpected: number }>;
  unexpected: string[];
  statuses: Record<string, number>;
  healthChecks: number;
  healthFailures: number;
  rssAfterWarmUpMb: number;
  rssAtEndMb: number;
  tensorsAfterWarmUp: number | undefined;
  tensorsAtEnd: number | undefined;
  passed: boolean;
}

interface Case {
  kind: string;
  contentType?: string;
  path?: string;
  method?: string;
  body: string;
  /** The status and code (for errors) the request must get. */
  status: number;
  code?: string;
  /** For a good request: the acceptable top-1 classes of each image, in order. */
  acceptable?: string[][];
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const expected: Record<string, { acceptable_top1_wnids: string[] }> = JSON.parse(
    await readFile(path.join(FIXTURES, 'expected.json'), 'utf8'),
  ).images;
  const names = Object.keys(expected);
  const files = Object.fromEntries(
    await Promise.all(names.map(async (name) => [name, await readFile(path.join(FIXTURES, name))] as const)),
  );
  const base64 = Object.fromEntries(names.map((name) => [name, files[name]!.toString('base64')]));

  // Images served on 127.0.0.2, which the guard is told to count as public; the guard stays on.
  const images = http.createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '').slice(1));
    if (files[name]) res.end(files[name]);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => images.listen(0, '127.0.0.2', resolve));
  const imageUrl = (name: string) =>
    `http://127.0.0.2:${(images.address() as AddressInfo).port}/${encodeURIComponent(name)}`;

  const config = loadConfig({
    MODEL_DIR: path.join(ROOT, 'models/mobilenet_v2'),
    ENGINE: options.engine ?? 'tfjs-wasm',
    LOG_LEVEL: 'SILENT',
  });
  const runtime = createRuntime(config, {
    classifier: 'workers',
    downloaderDeps: { isAddressAllowed: (address) => address === '127.0.0.2' || isPublicAddress(address) },
  });
  const classifier = await runtime.loadClassifier();
  const server = await createServer(runtime);
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  const origin = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;

  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const corrupt = files['owl.jpg']!.subarray(0, 30_000).toString('base64');
  const json = 'application/json';
  const makeCase = (): Case => {
    const roll = random();
    if (roll < 0.35) {
      const chosen = Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(names));
      return {
        kind: 'good base64',
        contentType: json,
        body: JSON.stringify({ images: chosen.map((n) => ({ data: base64[n] })) }),
        status: 200,
        acceptable: chosen.map((n) => expected[n]!.acceptable_top1_wnids),
      };
    }
    if (roll < 0.6) {
      const chosen = Array.from({ length: 1 + Math.floor(random() * 2) }, () => pick(names));
      return {
        kind: 'good url',
        contentType: json,
        body: JSON.stringify({ images: chosen.map((n) => ({ url: imageUrl(n) })), top_k: 3 }),
        status: 200,
        acceptable: chosen.map((n) => expected[n]!.acceptable_top1_wnids),
      };
    }
    return pick<Case>([
      { kind: 'malformed JSON', contentType: json, body: '{"images": [', status: 400, code: 'REQUEST_INVALID_JSON' },
      {
        kind: 'wrong content type',
        contentType: 'text/plain',
        body: '{}',
        status: 415,
        code: 'REQUEST_UNSUPPORTED_MEDIA_TYPE',
      },
      { kind: 'schema violation', contentType: json, body: '{"top_k": 0}', status: 422, code: 'REQUEST_INVALID' },
      {
        kind: 'too many images',
        contentType: json,
        body: JSON.stringify({ images: Array.from({ length: 33 }, () => ({ url: 'https://example.com/a.jpg' })) }),
        status: 422,
        code: 'REQUEST_TOO_MANY_IMAGES',
      },
      {
        kind: 'missing image',
        contentType: json,
        body: JSON.stringify({ images: [{ url: imageUrl('missing.jpg') }] }),
        status: 400,
        code: 'IMAGES_REJECTED',
      },
      // Loopback (port 1, nothing listens), refused by the guard: 127.0.0.2 is the only local address it lets through.
      {
        kind: 'forbidden url',
        contentType: json,
        body: JSON.stringify({ images: [{ url: 'http://127.0.0.1:1/latest/meta-data/' }] }),
        status: 400,
        code: 'IMAGES_REJECTED',
      },
      {
        kind: 'corrupt image',
        contentType: json,
        body: JSON.stringify({ images: [{ data: corrupt }] }),
        status: 400,
        code: 'IMAGES_REJECTED',
      },
      {
        kind: 'bad base64',
        contentType: json,
        body: JSON.stringify({ images: [{ data: 'not*base64' }] }),
        status: 400,
        code: 'IMAGES_REJECTED',
      },
      { kind: 'unknown route', method: 'GET', path: '/v1/predictions', body: '', status: 404, code: 'ROUTE_NOT_FOUND' },
      {
        kind: 'wrong method',
        method: 'DELETE',
        path: '/v1/predict',
        body: '',
        status: 405,
        code: 'METHOD_NOT_ALLOWED',
      },
    ]);
  };

  const pool = new Pool(origin, { connections: options.concurrency });
  const report: SoakReport = {
    requests: options.requests,
    seconds: 0,
    byKind: {},
    unexpected: [],
    statuses: {},
    healthChecks: 0,
    healthFailures: 0,
    rssAfterWarmUpMb: 0,
    rssAtEndMb: 0,
    tensorsAfterWarmUp: undefined,
    tensorsAtEnd: undefined,
    passed: false,
  };
  const send = async (c: Case) => {
    const response = await pool.request({
      path: c.path ?? '/v1/predict',
      method: (c.method ?? 'POST') as 'POST',
      headers: c.contentType ? { 'content-type': c.contentType } : {},
      body: c.body || undefined,
    });
    const body = (await response.body.json()) as { code?: string; images?: Array<{ category: string }> };
    report.statuses[response.statusCode] = (report.statuses[response.statusCode] ?? 0) + 1;
    report.byKind[c.kind] ??= { sent: 0, asExpected: 0 };
    const kind = report.byKind[c.kind]!;
    kind.sent++;
    const correct = c.acceptable
      ? c.acceptable.every((accepted, i) => accepted.includes(body.images?.[i]?.category ?? ''))
      : body.code === c.code;
    if (response.statusCode === c.status && correct) kind.asExpected++;
    else if (report.unexpected.length < 20)
      report.unexpected.push(`${c.kind}: ${response.statusCode} ${JSON.stringify(body).slice(0, 200)}`);
  };
  // Requests are made as they are sent: prebuilt, their bodies (megabytes each) would be the
  // biggest thing in this process's memory, not the server's.
  const runAll = async (count: number) => {
    let sent = 0;
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (sent < count) {
          sent++;
          await send(makeCase());
        }
      }),
    );
  };

  let polling = true;
  const health = (async () => {
    while (polling) {
      const response = await fetch(`${origin}/health/ready`).catch(() => undefined);
      report.healthChecks++;
      if (response?.status !== 200) report.healthFailures++;
      await response?.arrayBuffer();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();

  const started = performance.now();
  const warmUp = Math.max(50, Math.floor(options.requests / 10));
  await runAll(warmUp);
  report.rssAfterWarmUpMb = process.memoryUsage().rss / 2 ** 20;
  report.tensorsAfterWarmUp = await classifier.tensors();
  await runAll(options.requests - warmUp);
  report.seconds = (performance.now() - started) / 1000;
  report.rssAtEndMb = process.memoryUsage().rss / 2 ** 20;
  report.tensorsAtEnd = await classifier.tensors();
  polling = false;
  await health;

  await pool.close();
  await server.close();
  await runtime.close();
  await new Promise<void>((resolve) => images.close(() => resolve()));

  report.passed =
    report.unexpected.length === 0 &&
    Object.values(report.byKind).every((k) => k.sent === k.asExpected) &&
    report.healthFailures === 0 &&
    report.tensorsAtEnd === report.tensorsAfterWarmUp &&
    report.rssAtEndMb <= report.rssAfterWarmUpMb * (1 + RSS_MARGIN);
  return report;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const report = await runSoak({
    requests: Number(process.argv[2] ?? 3000),
    concurrency: Number(process.argv[3] ?? 16),
  });
  const kinds = Object.entries(report.byKind).map(
    ([kind, { sent, asExpected }]) =>
      `  ${kind.padEnd(20)} ${String(sent).padStart(5)} sent, ${asExpected} as expected`,
  );
  console.log(
    [
      `${report.requests} requests in ${report.seconds.toFixed(1)} s ` +
        `(${(report.requests / report.seconds).toFixed(0)}/s)`,
      ...kinds,
      `statuses: ${JSON.stringify(report.statuses)}`,
      `readiness: ${report.healthChecks} checks, ${report.healthFailures} not 200`,
      `RSS: ${report.rssAfterWarmUpMb.toFixed(0)} MB after warm-up, ` +
        `${report.rssAtEndMb.toFixed(0)} MB at the end (margin ${RSS_MARGIN * 100}%)`,
      `TF.js tensors: ${report.tensorsAfterWarmUp} after warm-up, ${report.tensorsAtEnd} at the end`,
      ...report.unexpected.map((line) => `UNEXPECTED ${line}`),
      report.passed ? 'PASSED' : 'FAILED',
    ].join('\n'),
  );
  process.exit(report.passed ? 0 : 1);
}

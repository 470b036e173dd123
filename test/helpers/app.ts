/**
 * The real service on an ephemeral port: real config (from an env object), real classifier (loaded
 * once per test process), real downloader and HTTP server.
 */
import type { AddressInfo } from 'node:net';
import { type Config, loadConfig } from '../../lib/config.ts';
import type { DownloaderDeps } from '../../lib/images/download.ts';
import { createLogger, type Logger } from '../../lib/logger.ts';
import { type Classifier, inProcessOptions, loadClassifier } from '../../lib/model/classifier.ts';
import { createRuntime } from '../../lib/runtime.ts';
import { createServer, type Server } from '../../lib/http/server.ts';
import { MODEL_DIR } from './fixtures.ts';

export const silentLogger: Logger = createLogger({
  serviceName: 'test',
  logLevel: process.env.TEST_LOG_LEVEL === 'DEBUG' ? 'DEBUG' : 'SILENT',
});

const classifiers = new Map<string, Promise<Classifier>>();

/** One classifier per engine choice and test process: loading the model is the slow part. */
export function sharedClassifier(engine: Config['engine'] = 'auto'): Promise<Classifier> {
  let classifier = classifiers.get(engine);
  if (!classifier) {
    classifier = loadClassifier(inProcessOptions(loadConfig({ MODEL_DIR, ENGINE: engine })), silentLogger);
    classifiers.set(engine, classifier);
  }
  return classifier;
}

export interface RunningApp {
  config: Config;
  server: Server;
  baseUrl: string;
  close(): Promise<void>;
}

export interface AppOptions {
  env?: Record<string, string>;
  /** Leave the model unloaded, to test readiness. */
  classifier?: Classifier | null;
  downloaderDeps?: DownloaderDeps;
}

export async function startApp(options: AppOptions = {}): Promise<RunningApp> {
  const config = loadConfig({ MODEL_DIR, ...options.env });
  const classifier =
    options.classifier === null ? undefined : (options.classifier ?? (await sharedClassifier(config.engine)));
  const runtime = createRuntime(config, {
    logger: silentLogger,
    sharedClassifier: classifier,
    downloaderDeps: options.downloaderDeps,
  });
  const server = await createServer(runtime);
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = server.app.server.address() as AddressInfo;
  return {
    config,
    server,
    baseUrl: `http://127.0.0.1:${port}`,
    async close() {
      await server.close();
      await runtime.close();
    },
  };
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: any;
}

/** POSTs a JSON value (or raw text, with its content type) and parses the JSON answer. */
export async function post(url: string, body: unknown, contentType = 'application/json'): Promise<JsonResponse> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

export async function get(url: string): Promise<JsonResponse> {
  const response = await fetch(url);
  return { status: response.status, headers: response.headers, body: await response.json() };
}

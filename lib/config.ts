/**
 * The only place that reads configuration. Every setting is an environment variable described once
 * in CONFIG_SCHEMA (type, bounds, default, meaning); `loadConfig` validates the environment against
 * it at start-up and returns a frozen, typed Config with units in its names.
 */
import { Ajv } from 'ajv';

const MiB = 1024 * 1024;
/** Node's timers take at most 2^31 - 1 ms; a longer delay would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

export const ENGINE_CHOICES = ['auto', 'onnx', 'tfjs-node', 'tfjs-wasm', 'tfjs-cpu'] as const;
export type EngineChoice = (typeof ENGINE_CHOICES)[number];

export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

interface Setting {
  type: 'integer' | 'string' | 'boolean';
  default: number | string | boolean;
  description: string;
  minimum?: number;
  maximum?: number;
  enum?: readonly string[];
  minLength?: number;
  /** The integer may also be `auto` (the default), resolved from the machine at start-up. */
  auto?: true;
}

/** Every environment variable the service reads. README's configuration table is checked against it. */
export const CONFIG_SCHEMA = {
  PORT: {
    type: 'integer',
    default: 8080,
    minimum: 0,
    maximum: 65535,
    description: 'TCP port of the HTTP server (0 picks a free port).',
  },
  HOST: { type: 'string', default: '0.0.0.0', minLength: 1, description: 'Address the HTTP server binds to.' },
  MODEL_DIR: {
    type: 'string',
    default: 'models/mobilenet_v2',
    minLength: 1,
    description: 'Model folder to serve; a relative path resolves against the working directory.',
  },
  ENGINE: {
    type: 'string',
    default: 'auto',
    enum: ENGINE_CHOICES,
    description:
      'Inference engine: `auto` picks onnx when the model folder has model.onnx, else tfjs-node when it loads, ' +
      'else tfjs-wasm. `tfjs-cpu` (pure JS, about 40x slower) only when named.',
  },
  THREAD_COUNT: {
    type: 'integer',
    default: 5,
    minimum: 1,
    maximum: 64,
    description: 'Downloads at once, per request.',
  },
  BATCH_SIZE: {
    type: 'integer',
    default: 4,
    minimum: 1,
    maximum: 256,
    description:
      'Images per model call when one request at a time is classified in-process: ' +
      'the Lambda functions and the classify command.',
  },
  WORKERS: {
    type: 'integer',
    auto: true,
    default: 'auto',
    minimum: 0,
    maximum: 64,
    description:
      'Inference worker threads of the HTTP server, each with its own copy of the model; ' +
      '0 runs inference on the main thread. `auto`: as many as fit the cores (cores / `ENGINE_THREADS`).',
  },
  ENGINE_THREADS: {
    type: 'integer',
    auto: true,
    default: 'auto',
    minimum: 1,
    maximum: 64,
    description:
      'Threads one engine uses for a batch (ONNX Runtime intra-op threads). ' +
      "`auto`: the cores divided among the server's workers (1 each by default); " +
      'all the cores for Lambda, the classify command and `WORKERS=0`.',
  },
  MAX_BATCH_SIZE: {
    type: 'integer',
    default: 8,
    minimum: 1,
    maximum: 256,
    description: 'Most images the server runs through the model at once, batched across concurrent requests.',
  },
  MAX_BATCH_DELAY_MS: {
    type: 'integer',
    default: 2,
    minimum: 0,
    maximum: 1000,
    description: 'Longest an image waits for others to fill a batch, in ms.',
  },
  MAX_QUEUE_IMAGES: {
    type: 'integer',
    default: 256,
    minimum: 1,
    description:
      'Most images in the server at once (downloading, decoding, waiting or in inference); ' +
      'a request that would exceed it gets 503 with Retry-After.',
  },
  QUEUE_TIMEOUT_MS: {
    type: 'integer',
    default: 10_000,
    minimum: 1,
    maximum: MAX_TIMER_MS,
    description: 'Longest an image waits for the model before its request gets 503, in ms.',
  },
  INFERENCE_TIMEOUT_MS: {
    type: 'integer',
    default: 30_000,
    minimum: 1,
    maximum: MAX_TIMER_MS,
    description: 'Longest one batch may run; a worker that takes longer is replaced and its requests get 503, in ms.',
  },
  TIMEOUT: {
    type: 'integer',
    default: 30,
    minimum: 1,
    maximum: 900,
    description: 'Seconds allowed for one image download, redirects included.',
  },
  MAX_IMAGE_BYTES: {
    type: 'integer',
    default: 10 * MiB,
    minimum: 1,
    description: 'Largest image accepted, downloaded or base64-decoded, in bytes (10 MiB).',
  },
  MAX_IMAGE_PIXELS: {
    type: 'integer',
    default: 50_000_000,
    minimum: 1,
    description: 'Largest image accepted, in pixels (width x height), read from the header before decoding.',
  },
  MAX_IMAGES_PER_REQUEST: {
    type: 'integer',
    default: 32,
    minimum: 1,
    maximum: 10_000,
    description: 'Most images in one request.',
  },
  MAX_BODY_BYTES: {
    type: 'integer',
    default: 32 * MiB,
    minimum: 1,
    description: 'Largest request body, in bytes (32 MiB).',
  },
  REQUEST_TIMEOUT_MS: {
    type: 'integer',
    default: 60_000,
    minimum: 1,
    maximum: MAX_TIMER_MS,
    description: 'Longest a client may take to send a whole request (headers and body) to the server, in ms.',
  },
  MAX_REDIRECTS: {
    type: 'integer',
    default: 3,
    minimum: 0,
    maximum: 20,
    description: 'Most redirects followed per download; one more is refused.',
  },
  ALLOW_PRIVATE_URLS: {
    type: 'boolean',
    default: false,
    description:
      'Turn the SSRF guard off and allow URLs on loopback, private and link-local addresses. For local testing only.',
  },
  DRAIN_TIMEOUT_MS: {
    type: 'integer',
    default: 10_000,
    minimum: 0,
    maximum: MAX_TIMER_MS,
    description:
      'On SIGTERM/SIGINT, how long requests in flight may take to finish before the process exits anyway, in ms.',
  },
  LOG_LEVEL: { type: 'string', default: 'INFO', enum: LOG_LEVELS, description: 'Log level of the JSON logs.' },
  SERVICE_NAME: {
    type: 'string',
    default: 'image-classifier',
    minLength: 1,
    description: 'Service name in logs and metrics.',
  },
  METRICS_NAMESPACE: {
    type: 'string',
    default: 'ImageClassifier',
    minLength: 1,
    description: "CloudWatch namespace of the Lambda functions' metrics (EMF).",
  },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof CONFIG_SCHEMA;
type SettingValue<S> = S extends { auto: true }
  ? number | 'auto'
  : S extends { type: 'integer' }
    ? number
    : S extends { type: 'boolean' }
      ? boolean
      : string;
type RawConfig = { [K in SettingName]: SettingValue<(typeof CONFIG_SCHEMA)[K]> };

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly modelDir: string;
  readonly engine: EngineChoice;
  readonly downloadConcurrency: number;
  readonly batchSize: number;
  readonly workers: number | 'auto';
  readonly engineThreads: number | 'auto';
  readonly maxBatchSize: number;
  readonly maxBatchDelayMs: number;
  readonly maxQueueImages: number;
  readonly queueTimeoutMs: number;
  readonly inferenceTimeoutMs: number;
  readonly downloadTimeoutMs: number;
  readonly maxImageBytes: number;
  readonly maxImagePixels: number;
  readonly maxImagesPerRequest: number;
  readonly maxBodyBytes: number;
  readonly requestTimeoutMs: number;
  readonly maxRedirects: number;
  readonly allowPrivateUrls: boolean;
  readonly drainTimeoutMs: number;
  readonly logLevel: LogLevel;
  readonly serviceName: string;
  readonly metricsNamespace: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** A setting as JSON Schema: `auto` integers accept either. */
function jsonSchemaOf({ auto, ...setting }: Setting): object {
  if (!auto) return setting;
  const { default: fallback, description, ...integer } = setting;
  return { anyOf: [integer, { const: 'auto' }], default: fallback, description };
}

const validate = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: true }).compile({
  type: 'object',
  properties: Object.fromEntries(Object.entries(CONFIG_SCHEMA).map(([name, setting]) => [name, jsonSchemaOf(setting)])),
});

/**
 * Reads the settings from `env` (process.env in production, a plain object in tests).
 * Empty values count as unset, so `FOO=` in a Dockerfile or serverless.yml falls back to the default.
 * Throws ConfigError naming every bad variable, its rule and the value received.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const raw: Record<string, unknown> = {};
  for (const name of Object.keys(CONFIG_SCHEMA) as SettingName[]) {
    const value = env[name]?.trim();
    if (!value) continue;
    // LOG_LEVEL is conventionally upper case and ENGINE lower case; accept either spelling.
    raw[name] =
      name === 'LOG_LEVEL'
        ? value.toUpperCase()
        : name === 'ENGINE' || value.toLowerCase() === 'auto'
          ? value.toLowerCase()
          : value;
  }
  if (!validate(raw)) {
    // One message per variable: the first rule it broke ("or auto" when auto is also allowed).
    const problems = new Map<string, string>();
    for (const error of validate.errors ?? []) {
      const name = error.instancePath.slice(1);
      if (problems.has(name) || error.keyword === 'const' || error.keyword === 'anyOf') continue;
      const allowed =
        error.params && 'allowedValues' in error.params
          ? `: ${(error.params.allowedValues as string[]).join(', ')}`
          : '';
      const orAuto = (CONFIG_SCHEMA as Record<string, Setting>)[name]?.auto ? ' or auto' : '';
      problems.set(
        name,
        `${name} must ${error.message?.replace(/^must /, '')}${allowed}${orAuto} ` +
          `(received ${JSON.stringify(env[name])})`,
      );
    }
    throw new ConfigError(`Invalid configuration: ${[...problems.values()].join('; ')}`);
  }
  const v = raw as RawConfig;
  if (v.MAX_QUEUE_IMAGES < v.MAX_IMAGES_PER_REQUEST) {
    throw new ConfigError(
      `Invalid configuration: MAX_QUEUE_IMAGES (${v.MAX_QUEUE_IMAGES}) must be at least ` +
        `MAX_IMAGES_PER_REQUEST (${v.MAX_IMAGES_PER_REQUEST}), or the largest requests could never run.`,
    );
  }
  return Object.freeze({
    port: v.PORT,
    host: v.HOST,
    modelDir: v.MODEL_DIR,
    engine: v.ENGINE as EngineChoice,
    downloadConcurrency: v.THREAD_COUNT,
    batchSize: v.BATCH_SIZE,
    workers: v.WORKERS,
    engineThreads: v.ENGINE_THREADS,
    maxBatchSize: v.MAX_BATCH_SIZE,
    maxBatchDelayMs: v.MAX_BATCH_DELAY_MS,
    maxQueueImages: v.MAX_QUEUE_IMAGES,
    queueTimeoutMs: v.QUEUE_TIMEOUT_MS,
    inferenceTimeoutMs: v.INFERENCE_TIMEOUT_MS,
    downloadTimeoutMs: v.TIMEOUT * 1000,
    maxImageBytes: v.MAX_IMAGE_BYTES,
    maxImagePixels: v.MAX_IMAGE_PIXELS,
    maxImagesPerRequest: v.MAX_IMAGES_PER_REQUEST,
    maxBodyBytes: v.MAX_BODY_BYTES,
    requestTimeoutMs: v.REQUEST_TIMEOUT_MS,
    maxRedirects: v.MAX_REDIRECTS,
    allowPrivateUrls: v.ALLOW_PRIVATE_URLS,
    drainTimeoutMs: v.DRAIN_TIMEOUT_MS,
    logLevel: v.LOG_LEVEL as LogLevel,
    serviceName: v.SERVICE_NAME,
    metricsNamespace: v.METRICS_NAMESPACE,
  });
}

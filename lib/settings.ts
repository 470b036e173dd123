/**
 * Every environment variable the service reads, described once: type, bounds, default, meaning, and
 * its name in Config (config.ts derives the Config type and the validator from this table). README's
 * configuration table is generated from it.
 */
const MiB = 1024 * 1024;
/** Node's timers take at most 2^31 - 1 ms; a longer delay would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

export const ENGINE_CHOICES = ['auto', 'onnx', 'tfjs-node', 'tfjs-wasm', 'tfjs-cpu'] as const;
export type EngineChoice = (typeof ENGINE_CHOICES)[number];

export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Setting {
  type: 'integer' | 'string' | 'boolean';
  default: number | string | boolean;
  description: string;
  minimum?: number;
  maximum?: number;
  enum?: readonly string[];
  minLength?: number;
  /** A regular expression the string must match (the default included). */
  pattern?: string;
  /** The integer may also be `auto` (the default), resolved from the machine at start-up. */
  auto?: true;
  /** Its name in Config. */
  key: string;
  /** Config holds the value times this: a unit the environment spells differently (seconds to ms). */
  scale?: number;
  /** Comma-separated: Config holds the items, trimmed, without empty ones. */
  list?: true;
  /** Never echoed, not even in the message that refuses it. */
  secret?: true;
}

/** Every environment variable the service reads. README's configuration table is checked against it. */
export const CONFIG_SCHEMA = {
  PORT: {
    key: 'port',
    type: 'integer',
    default: 8080,
    minimum: 0,
    maximum: 65535,
    description: 'TCP port of the HTTP server (0 picks a free port).',
  },
  HOST: {
    key: 'host',
    type: 'string',
    default: '0.0.0.0',
    minLength: 1,
    description: 'Address the HTTP server binds to.',
  },
  MODEL_DIR: {
    key: 'modelDir',
    type: 'string',
    default: 'models/mobilenet_v2',
    minLength: 1,
    description: 'Model folder to serve; a relative path resolves against the working directory.',
  },
  ENGINE: {
    key: 'engine',
    type: 'string',
    default: 'auto',
    enum: ENGINE_CHOICES,
    description:
      'Inference engine: `auto` picks onnx when the model folder has model.onnx, else tfjs-node when it loads, ' +
      'else tfjs-wasm. `tfjs-cpu` (pure JS, about 40x slower) only when named.',
  },
  THREAD_COUNT: {
    key: 'downloadConcurrency',
    type: 'integer',
    default: 5,
    minimum: 1,
    maximum: 64,
    description: 'Downloads at once, per request.',
  },
  BATCH_SIZE: {
    key: 'batchSize',
    type: 'integer',
    default: 4,
    minimum: 1,
    maximum: 256,
    description:
      'Images per model call when one request at a time is classified in-process: ' +
      'the Lambda functions and the classify command.',
  },
  WORKERS: {
    key: 'workers',
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
    key: 'engineThreads',
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
    key: 'maxBatchSize',
    type: 'integer',
    default: 8,
    minimum: 1,
    maximum: 256,
    description: 'Most images the server runs through the model at once, batched across concurrent requests.',
  },
  MAX_BATCH_DELAY_MS: {
    key: 'maxBatchDelayMs',
    type: 'integer',
    default: 2,
    minimum: 0,
    maximum: 1000,
    description: 'Longest an image waits for others to fill a batch, in ms.',
  },
  MAX_QUEUE_IMAGES: {
    key: 'maxQueueImages',
    type: 'integer',
    default: 256,
    minimum: 1,
    description:
      'Most images in the server at once (downloading, decoding, waiting or in inference; a request ' +
      'whose body is still being read counts as one); a request that would exceed it gets 503 with Retry-After.',
  },
  QUEUE_TIMEOUT_MS: {
    key: 'queueTimeoutMs',
    type: 'integer',
    default: 10_000,
    minimum: 1,
    maximum: MAX_TIMER_MS,
    description: 'Longest an image waits for the model before its request gets 503, in ms.',
  },
  INFERENCE_TIMEOUT_MS: {
    key: 'inferenceTimeoutMs',
    type: 'integer',
    default: 30_000,
    minimum: 1,
    maximum: MAX_TIMER_MS,
    description: 'Longest one batch may run; a worker that takes longer is replaced and its requests get 503, in ms.',
  },
  TIMEOUT: {
    key: 'downloadTimeoutMs',
    scale: 1000,
    type: 'integer',
    default: 30,
    minimum: 1,
    maximum: 900,
    description: 'Seconds allowed for one image download, redirects included.',
  },
  MAX_IMAGE_BYTES: {
    key: 'maxImageBytes',
    type: 'integer',
    default: 10 * MiB,
    minimum: 1,
    description: 'Largest image accepted, downloaded or base64-decoded, in bytes (10 MiB).',
  },
  MAX_IMAGE_PIXELS: {
    key: 'maxImagePixels',
    type: 'integer',
    default: 50_000_000,
    minimum: 1,
    description: 'Largest image accepted, in pixels (width x height), read from the header before decoding.',
  },
  DECODE_MEMORY_BYTES: {
    key: 'decodeMemoryBytes',
    type: 'integer',
    auto: true,
    default: 'auto',
    minimum: 1,
    description:
      'Most memory the images being decoded at once may take, in bytes, estimated from their headers; ' +
      'the others wait their turn, and an image larger than this is decoded alone. ' +
      "`auto`: a quarter of the process's memory (Lambda's memory size, else the cgroup limit, " +
      "else the machine's), between 64 MiB and 512 MiB.",
  },
  DECODE_WAIT_TIMEOUT_MS: {
    key: 'decodeWaitTimeoutMs',
    type: 'integer',
    default: 10_000,
    minimum: 1,
    maximum: MAX_TIMER_MS,
    description:
      'Longest an image waits for decode memory (`DECODE_MEMORY_BYTES`) before its request gets 503, in ms. ' +
      'The HTTP server only: the Lambda functions and `classify` wait as long as it takes.',
  },
  DECODE_TIMEOUT_MS: {
    key: 'decodeTimeoutMs',
    type: 'integer',
    default: 10_000,
    minimum: 1000,
    maximum: 3_600_000,
    description:
      'Longest one image may take to decode, in ms (rounded up to whole seconds); ' +
      'past it the image is refused with `IMAGE_TOO_COMPLEX`.',
  },
  MAX_IMAGES_PER_REQUEST: {
    key: 'maxImagesPerRequest',
    type: 'integer',
    default: 32,
    minimum: 1,
    maximum: 10_000,
    description: 'Most images in one request.',
  },
  MAX_BODY_BYTES: {
    key: 'maxBodyBytes',
    type: 'integer',
    default: 32 * MiB,
    minimum: 1,
    description: 'Largest request body, in bytes (32 MiB).',
  },
  REQUEST_TIMEOUT_MS: {
    key: 'requestTimeoutMs',
    type: 'integer',
    default: 60_000,
    minimum: 1,
    maximum: MAX_TIMER_MS,
    description: 'Longest a client may take to send a whole request (headers and body) to the server, in ms.',
  },
  REQUEST_DEADLINE_MS: {
    key: 'requestDeadlineMs',
    type: 'integer',
    default: 50_000,
    minimum: 1,
    maximum: MAX_TIMER_MS,
    description:
      'Longest the server works on one request once received, in ms; past it, 504 `REQUEST_DEADLINE_EXCEEDED`. ' +
      "Below the idle timeout of AWS load balancers (60 s). On Lambda, the function's remaining time decides.",
  },
  MAX_REDIRECTS: {
    key: 'maxRedirects',
    type: 'integer',
    default: 3,
    minimum: 0,
    maximum: 20,
    description: 'Most redirects followed per download; one more is refused.',
  },
  ALLOW_PRIVATE_URLS: {
    key: 'allowPrivateUrls',
    type: 'boolean',
    default: false,
    description:
      'Turn the SSRF guard off and allow URLs on loopback, private and link-local addresses. For local testing only.',
  },
  API_KEYS: {
    key: 'apiKeys',
    type: 'string',
    list: true,
    secret: true,
    default: '',
    description:
      'API keys, comma-separated, at least 16 printable ASCII characters each (no spaces). ' +
      'Once there is one (here or in `API_KEYS_FILE`), the HTTP server answers `/v1/` requests only with a key ' +
      '(`Authorization: Bearer <key>` or `x-api-key: <key>`), else 401. Empty: no key needed.',
  },
  API_KEYS_FILE: {
    key: 'apiKeysFile',
    type: 'string',
    default: '',
    description:
      'A file of API keys, one a line (blank lines and lines starting with `#` ignored), read once at start-up ' +
      'and added to `API_KEYS`; a relative path resolves against the working directory. ' +
      'A missing or unreadable file, or one without keys, stops the start-up.',
  },
  METRICS_TOKEN: {
    key: 'metricsToken',
    type: 'string',
    secret: true,
    default: '',
    pattern: '^(?:[\\x21-\\x7e]{16,})?$',
    description:
      'Bearer token `GET /metrics` requires (`Authorization: Bearer <token>`, else 401), at least 16 printable ' +
      'ASCII characters (no spaces). Empty: `/metrics` is open, unless API keys are set: then it is not served (404).',
  },
  DRAIN_TIMEOUT_MS: {
    key: 'drainTimeoutMs',
    type: 'integer',
    default: 10_000,
    minimum: 0,
    maximum: MAX_TIMER_MS,
    description:
      'On SIGTERM/SIGINT, how long requests in flight may take to finish before the process exits anyway, in ms.',
  },
  LOG_LEVEL: {
    key: 'logLevel',
    type: 'string',
    default: 'INFO',
    enum: LOG_LEVELS,
    description: 'Log level of the JSON logs.',
  },
  SERVICE_NAME: {
    key: 'serviceName',
    type: 'string',
    default: 'image-classifier',
    minLength: 1,
    description: 'Service name in logs and metrics.',
  },
  METRICS_NAMESPACE: {
    key: 'metricsNamespace',
    type: 'string',
    default: 'ImageClassifier',
    minLength: 1,
    description: "CloudWatch namespace of the Lambda functions' metrics (EMF).",
  },
  S3_FORCE_PATH_STYLE: {
    key: 's3ForcePathStyle',
    type: 'boolean',
    default: false,
    description:
      'Batch jobs: address S3 buckets by path (`https://host/bucket/key`) instead of by host name, ' +
      'for S3-compatible stores and emulators at `AWS_ENDPOINT_URL`. The AWS SDK reads `AWS_REGION` ' +
      '(here `us-east-1` when unset), `AWS_ENDPOINT_URL` and the credentials itself.',
  },
} as const satisfies Record<string, Setting>;

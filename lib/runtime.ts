/**
 * The composition root: what every entry point (server, Lambda, CLI, bench, fuzz, tests) builds
 * from its configuration, built here once, with one close() that releases it in the right order.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Config } from './config.ts';
import { createDecodeBudget, readMemoryLimits, resolveDecodeMemoryBytes } from './images/decode-budget.ts';
import { type Downloader, type DownloaderDeps, createDownloader, downloadLimits } from './images/download.ts';
import { type ImageRetriever, type S3ObjectReader, type Trace, createImageRetriever } from './images/retrieve.ts';
import { type Logger, createLogger } from './logger.ts';
import { type Classifier, inProcessOptions, loadClassifier, serverOptions } from './model/classifier.ts';

export interface RuntimeOptions {
  /** `workers` for the server (a worker pool, batching across requests); else in this thread. */
  classifier?: 'in-process' | 'workers';
  /** A classifier loaded elsewhere and shared (tests); the runtime uses it and does not dispose it. */
  sharedClassifier?: Classifier;
  logger?: Logger;
  downloaderDeps?: DownloaderDeps;
  /** Let `retrieve` read `{ file }` sources from disk: the `classify` command line only, never a server. */
  fileSources?: boolean;
  /** Let `retrieve` read `{ s3 }` sources with this: batch jobs only (lib/batch/), never a server. */
  s3Sources?: S3ObjectReader;
  /** Traces `retrieve`'s downloads and decodes (the Lambda functions, when tracing is on). */
  trace?: Trace;
}

export interface Runtime {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly downloader: Downloader;
  readonly retrieve: ImageRetriever;
  /** The classifier once loaded, else undefined (the server answers not-ready meanwhile). */
  classifier(): Classifier | undefined;
  /** Loads (once) and returns the classifier; a load failure is logged as critical and thrown. */
  loadClassifier(): Promise<Classifier>;
  /** Disposes the classifier (after a load in progress), then closes the downloader's sockets. */
  close(): Promise<void>;
}

export function createRuntime(config: Config, options: RuntimeOptions = {}): Runtime {
  const logger = options.logger ?? createLogger(config);
  if (config.allowPrivateUrls)
    logger.warn('ALLOW_PRIVATE_URLS is on: URLs may reach loopback, private and link-local addresses');
  const metrics = new Metrics({ namespace: config.metricsNamespace, serviceName: config.serviceName });
  const downloader = createDownloader(downloadLimits(config), options.downloaderDeps);
  // One budget for the process's decodes. The server sheds what cannot get memory in time (503);
  // Lambda and the CLI take one request at a time, where a retry would fail the same way: they wait.
  const decodeBudget = createDecodeBudget({
    capacityBytes: resolveDecodeMemoryBytes(config.decodeMemoryBytes, readMemoryLimits()),
    waitTimeoutMs: options.classifier === 'workers' ? config.decodeWaitTimeoutMs : Number.POSITIVE_INFINITY,
  });
  let loaded = options.sharedClassifier;
  let loading: Promise<Classifier> | undefined = loaded && Promise.resolve(loaded);

  const loadOwnClassifier = async (): Promise<Classifier> => {
    const classifierOptions = options.classifier === 'workers' ? serverOptions(config) : inProcessOptions(config);
    try {
      loaded = await loadClassifier(classifierOptions, logger);
      return loaded;
    } catch (error) {
      logger.critical('The model could not be loaded', error as Error);
      throw error;
    }
  };

  return {
    config,
    logger,
    metrics,
    downloader,
    retrieve: createImageRetriever({ ...config, decodeBudget, trace: options.trace }, downloader, {
      files: options.fileSources === true,
      s3: options.s3Sources,
    }),
    classifier: () => loaded,
    loadClassifier: () => (loading ??= loadOwnClassifier()),
    async close() {
      const own = options.sharedClassifier ? undefined : await loading?.catch(() => undefined);
      await Promise.all([own?.dispose(), downloader.close()]);
    },
  };
}

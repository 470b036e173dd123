/**
 * What works chunks, built once per process (the local worker; a Lambda function): the runtime
 * with S3 sources enabled (a retriever no server ever has), its classifier, and the S3 client that
 * reads the images and writes the parts.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config.ts';
import type { Trace } from '../images/retrieve.ts';
import { createS3ObjectReader } from '../images/read-s3-object.ts';
import type { Logger } from '../logger.ts';
import type { Classifier } from '../model/classifier.ts';
import { type Runtime, createRuntime } from '../runtime.ts';
import { type ClientOverrides, createS3Client } from './aws-clients.ts';
import type { ChunkDeps } from './process-chunk.ts';

export interface ChunkRuntimeOptions {
  logger?: Logger;
  /** An emulator's endpoint and credentials (tests). */
  clients?: ClientOverrides;
  /** A classifier loaded elsewhere and shared (tests); not disposed on close. */
  sharedClassifier?: Classifier;
  /** Traces reads, decodes and inference (a Lambda function with tracing on). */
  trace?: Trace;
}

export interface ChunkRuntime {
  readonly s3: S3Client;
  readonly runtime: Runtime;
  /** processChunk's dependencies; the first call loads the model (a load failure is thrown, on every call). */
  deps(): Promise<ChunkDeps>;
  close(): Promise<void>;
}

export function createChunkRuntime(config: Config, options: ChunkRuntimeOptions = {}): ChunkRuntime {
  const s3 = createS3Client(config, options.clients);
  const runtime = createRuntime(config, {
    logger: options.logger,
    sharedClassifier: options.sharedClassifier,
    s3Sources: createS3ObjectReader(s3),
    trace: options.trace,
  });
  return {
    s3,
    runtime,
    async deps() {
      const classifier = await runtime.loadClassifier();
      return { s3, classifier, retrieve: runtime.retrieve, trace: options.trace };
    },
    async close() {
      await runtime.close();
      s3.destroy();
    },
  };
}

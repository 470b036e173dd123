/**
 * The batch Lambda function: SQS delivers the batch queue's messages (one chunk of a batch job
 * each) and the function works them with processChunk, as `classify batch work` does. The model and
 * the S3 client are built once per container (initBatchFunction, during Lambda's init phase).
 *
 * The event source mapping reports failures per message (ReportBatchItemFailures): a record that
 * throws is listed in `batchItemFailures`, so SQS delivers only that one again (and moves it to the
 * dead-letter queue after maxReceiveCount), while the others are deleted. When the invocation's time
 * runs short the function takes no new record: those left are reported as failures too, to be
 * delivered again at once rather than after Lambda killed the invocation (which would make SQS
 * deliver every record of it again, done or not).
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { createChunkRuntime } from '../batch/chunk-runtime.ts';
import { type ChunkDeps, processChunk } from '../batch/process-chunk.ts';
import { raceDeadline, startDeadline } from '../deadline.ts';
import type { Logger } from '../logger.ts';
import { round } from '../timings.ts';
import { initFunction } from './init.ts';

export type BatchHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export interface BatchFunctionDeps {
  logger: Logger;
  /** processChunk's classifier, retriever (with S3 sources) and S3 client. */
  chunk: ChunkDeps;
  /** Per-invocation metrics (EMF); without them the function publishes none. */
  metrics?: Metrics;
}

export interface BatchTimeOptions {
  /**
   * Kept back from the invocation's remaining time to report, log and publish metrics: a chunk
   * still in progress then is abandoned (its part is not written) and reported as a failure.
   */
  marginMs?: number;
  /**
   * The least time a chunk is given: a record is taken only if the remaining time (less the margin)
   * is at least this, and at least the longest chunk this container has worked so far.
   */
  minChunkMs?: number;
}

export const DEFAULT_MARGIN_MS = 3_000;
export const DEFAULT_MIN_CHUNK_MS = 10_000;

/**
 * What a Lambda container builds once (init.ts's initFunction, as predict): the configuration, the
 * runtime with S3 sources (its logger and metrics), the S3 client, and the model, loaded. X-Ray
 * subsegments for reads, decodes and inference when serverless.yml's `tracing` param is on
 * (POWERTOOLS_TRACE_ENABLED=true).
 */
export async function initBatchFunction(env: Record<string, string | undefined>): Promise<BatchFunctionDeps> {
  const { built: batch } = await initFunction(env, (config, trace) => createChunkRuntime(config, { trace }));
  const chunk = await batch.deps();
  return { logger: batch.runtime.logger, metrics: batch.runtime.metrics, chunk };
}

/** The job and chunk a record's body names, for its log lines, without trusting it to be a chunk. */
function chunkOf(record: SQSRecord): { jobId?: unknown; chunk?: unknown } {
  try {
    const { jobId, chunk } = JSON.parse(record.body) as Record<string, unknown>;
    return {
      ...(typeof jobId === 'string' && { jobId }),
      ...(typeof chunk === 'number' && { chunk }),
    };
  } catch {
    return {};
  }
}

export function createBatchHandler(deps: BatchFunctionDeps, options: BatchTimeOptions = {}): BatchHandler {
  const { logger, metrics } = deps;
  const marginMs = options.marginMs ?? DEFAULT_MARGIN_MS;
  const minChunkMs = options.minChunkMs ?? DEFAULT_MIN_CHUNK_MS;
  /** The longest chunk this container has worked: what the next one is expected to take, at worst. */
  let slowestChunkMs = 0;

  return async (event, context) => {
    const started = performance.now();
    logger.addContext(context);
    logger.setCorrelationId(context.awsRequestId);
    metrics?.captureColdStartMetric(context.functionName);
    const records = event?.Records;
    if (!Array.isArray(records)) throw new TypeError('Not an SQS event: it has no Records.');

    const failures: SQSBatchResponse['batchItemFailures'] = [];
    const counts = { done: 0, failed: 0, deferred: 0, images: 0, classified: 0 };
    // Aborts processChunk's reads and inference: the chunk is then reported, its part not written.
    const deadline = startDeadline(context.getRemainingTimeInMillis() - marginMs);
    try {
      for (const [index, record] of records.entries()) {
        const remainingMs = context.getRemainingTimeInMillis() - marginMs;
        if (deadline.signal.aborted || remainingMs < Math.max(minChunkMs, slowestChunkMs)) {
          const left = records.slice(index);
          for (const { messageId } of left) failures.push({ itemIdentifier: messageId });
          counts.deferred = left.length;
          logger.warn('Too little time left for another chunk; SQS will deliver the rest again', {
            deferred: left.length,
            remainingMs: Math.max(0, Math.round(remainingMs)),
            slowestChunkMs: round(slowestChunkMs),
          });
          break;
        }
        const described = { messageId: record.messageId, ...chunkOf(record) };
        const receiveCount = Number(record.attributes?.ApproximateReceiveCount) || undefined;
        const chunkStarted = performance.now();
        try {
          const result = await raceDeadline(processChunk(record.body, deps.chunk, deadline.signal), deadline.signal);
          const durationMs = performance.now() - chunkStarted;
          slowestChunkMs = Math.max(slowestChunkMs, durationMs);
          counts.done++;
          counts.images += result.images;
          counts.classified += result.classified;
          logger.info('Batch chunk done', {
            ...described,
            part: result.part,
            images: result.images,
            classified: result.classified,
            failed: result.failed,
            durationMs: round(durationMs),
          });
          metrics?.addMetric('BatchImagesClassified', MetricUnit.Count, result.classified);
          metrics?.addMetric('BatchImagesFailed', MetricUnit.Count, result.failed);
          metrics?.addMetric('BatchChunkTime', MetricUnit.Milliseconds, durationMs);
        } catch (error) {
          counts.failed++;
          failures.push({ itemIdentifier: record.messageId });
          logger.error('Batch chunk failed; SQS will deliver it again (the dead-letter queue after 3 receives)', {
            ...described,
            receiveCount,
            durationMs: round(performance.now() - chunkStarted),
            error: error as Error,
          });
        }
      }
    } finally {
      deadline.clear();
      if (metrics) {
        metrics.addMetric('BatchChunksDone', MetricUnit.Count, counts.done);
        metrics.addMetric('BatchChunksFailed', MetricUnit.Count, counts.failed + counts.deferred);
        metrics.publishStoredMetrics();
      }
    }
    logger.info('Batch invocation done', {
      records: records.length,
      done: counts.done,
      failed: counts.failed,
      deferred: counts.deferred,
      images: counts.images,
      classified: counts.classified,
      durationMs: round(performance.now() - started),
    });
    return { batchItemFailures: failures };
  };
}

/**
 * Dynamic batching across requests, as TF Serving, Triton and BentoML do it. Images from any
 * request wait in one queue; a batch starts when a runner is free and either MAX_BATCH_SIZE images
 * are waiting or the oldest has waited MAX_BATCH_DELAY_MS, so a lone request is never held longer
 * than that delay. An image that waits longer than QUEUE_TIMEOUT_MS for its batch to start fails
 * its request with 503 (a running batch is bounded by the worker pool's own time limit).
 * The clock is injectable, so tests drive batching deterministically.
 */
import { RETRY_AFTER_SECONDS, ServiceError } from '../errors.ts';

export interface BatchPolicy {
  maxBatchSize: number;
  maxDelayMs: number;
  /** Infinity: no limit (one caller at a time, in-process). */
  queueTimeoutMs: number;
}

/** setTimeout's job, injectable: runs `callback` after `delayMs` and returns a cancel function. */
export type Schedule = (callback: () => void, delayMs: number) => () => void;

export interface BatchRunner<TIn, TOut> {
  /** Runs one batch; resolves with one output per input, in order. */
  run(items: TIn[]): Promise<BatchOutput<TOut>>;
  /** How many batches could start now (idle workers); a run() call must lower it at once. */
  capacity(): number;
}

export interface BatchOutput<TOut> {
  outputs: TOut[];
  runMs: number;
}

export interface SubmitResult<TOut> {
  outputs: TOut[];
  /** Longest wait of this submission's items between arriving and their batch starting. */
  queueMs: number;
  /** Time its batches ran, summed. */
  inferenceMs: number;
  /** Size of each batch that ran its items (other requests' items included). */
  batchSizes: number[];
}

interface Entry<TIn> {
  item: TIn;
  submission: Submission;
  index: number;
  enqueuedAt: number;
}

interface Submission {
  settled: boolean;
  /** Items not yet in a batch; when none are left, the queue timeout no longer applies. */
  waiting: number;
  remaining: number;
  dispatched(): void;
  fail(error: unknown): void;
  deliver(index: number, output: unknown, queueMs: number, batch: BatchInfo): void;
}

interface BatchInfo {
  size: number;
  runMs: number;
}

const realSchedule: Schedule = (callback, delayMs) => {
  const timer = setTimeout(callback, delayMs);
  return () => clearTimeout(timer);
};

export class Batcher<TIn, TOut> {
  private readonly queue: Entry<TIn>[] = [];
  private cancelDelay: (() => void) | undefined;

  constructor(
    private readonly runner: BatchRunner<TIn, TOut>,
    private readonly policy: BatchPolicy,
    private readonly schedule: Schedule = realSchedule,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Images waiting for a batch. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Queues the items for the model. When `signal` aborts, the submission fails with its reason and
   * its items still waiting leave the queue (a batch already running finishes for the others).
   */
  submit(items: TIn[], signal?: AbortSignal): Promise<SubmitResult<TOut>> {
    if (items.length === 0) return Promise.resolve({ outputs: [], queueMs: 0, inferenceMs: 0, batchSizes: [] });
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const outputs: TOut[] = new Array(items.length);
      const batches = new Set<BatchInfo>();
      let queueMs = 0;
      const overdue = () =>
        submission.fail(
          new ServiceError(
            'SERVICE_OVERLOADED',
            `The model did not get to this request within ${this.policy.queueTimeoutMs} ms.`,
            { retryAfterSeconds: RETRY_AFTER_SECONDS },
          ),
        );
      const cancelQueueTimeout = Number.isFinite(this.policy.queueTimeoutMs)
        ? this.schedule(overdue, this.policy.queueTimeoutMs)
        : () => {};
      const abandon = () => submission.fail(signal?.reason);
      signal?.addEventListener('abort', abandon, { once: true });
      const settle = () => {
        cancelQueueTimeout();
        signal?.removeEventListener('abort', abandon);
      };
      const submission: Submission = {
        settled: false,
        waiting: items.length,
        remaining: items.length,
        dispatched: () => {
          if (--submission.waiting === 0) cancelQueueTimeout();
        },
        fail: (error) => {
          if (submission.settled) return;
          submission.settled = true;
          settle();
          this.removeQueued(submission);
          reject(error);
        },
        deliver: (index, output, waited, batch) => {
          if (submission.settled) return;
          outputs[index] = output as TOut;
          queueMs = Math.max(queueMs, waited);
          batches.add(batch);
          if (--submission.remaining > 0) return;
          submission.settled = true;
          settle();
          const ran = [...batches];
          resolve({
            outputs,
            queueMs,
            inferenceMs: ran.reduce((sum, b) => sum + b.runMs, 0),
            batchSizes: ran.map((b) => b.size),
          });
        },
      };
      const enqueuedAt = this.now();
      for (const [index, item] of items.entries()) this.queue.push({ item, submission, index, enqueuedAt });
      this.pump();
    });
  }

  /** Starts every batch that may start now; otherwise waits for the rest of the delay. */
  pump(): void {
    while (this.queue.length > 0 && this.runner.capacity() > 0) {
      const waited = this.now() - this.queue[0]!.enqueuedAt;
      if (this.queue.length < this.policy.maxBatchSize && waited < this.policy.maxDelayMs) {
        this.cancelDelay ??= this.schedule(() => {
          this.cancelDelay = undefined;
          this.pump();
        }, this.policy.maxDelayMs - waited);
        return;
      }
      this.cancelDelay?.();
      this.cancelDelay = undefined;
      this.dispatch(this.queue.splice(0, this.policy.maxBatchSize));
    }
  }

  private dispatch(batch: Entry<TIn>[]): void {
    const startedAt = this.now();
    for (const entry of batch) entry.submission.dispatched();
    this.runner.run(batch.map((entry) => entry.item)).then(
      ({ outputs, runMs }) => {
        const info: BatchInfo = { size: batch.length, runMs };
        for (const [i, entry] of batch.entries())
          entry.submission.deliver(entry.index, outputs[i], startedAt - entry.enqueuedAt, info);
        this.pump();
      },
      (error: unknown) => {
        for (const entry of batch) entry.submission.fail(error);
        this.pump();
      },
    );
  }

  private removeQueued(submission: Submission): void {
    for (let i = this.queue.length - 1; i >= 0; i--)
      if (this.queue[i]!.submission === submission) this.queue.splice(i, 1);
  }
}

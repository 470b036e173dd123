/**
 * The local batch worker: long-polls an SQS queue and works one message at a time, keeping it
 * invisible to other workers while it does (ChangeMessageVisibility on a timer). A message is
 * deleted only once handled (its part written); one that fails is left alone, so SQS delivers it
 * again after its visibility timeout, and moves it to the dead-letter queue after maxReceiveCount.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Logger } from '../logger.ts';

export interface WorkerOptions {
  queueUrl: string;
  sqs: SQSClient;
  /** Works one message body (processChunk); throws to leave the message for redelivery. */
  handle: (body: string) => Promise<unknown>;
  /** Stop once the queue has nothing to give (one empty long poll; two without long polling). */
  untilEmpty?: boolean;
  /** Long polling, 0 to 20 seconds (SQS's most). */
  waitTimeSeconds?: number;
  /** How long a message stays invisible to others, renewed every third of it while it is worked on. */
  visibilityTimeoutSeconds?: number;
  /** Stops the worker: a poll in progress is cut short, a message being worked on is finished first. */
  signal?: AbortSignal;
  logger?: Logger;
}

export interface WorkerSummary {
  /** Messages handled and deleted. */
  processed: number;
  /** Messages whose handling threw, left for redelivery. */
  failed: number;
}

export const DEFAULT_WAIT_SECONDS = 20;
export const DEFAULT_VISIBILITY_SECONDS = 60;
/** Failed receives in a row (each after the SDK's own retries) before the worker gives up. */
const RECEIVE_ATTEMPTS = 5;

export async function runWorker(options: WorkerOptions): Promise<WorkerSummary> {
  const { queueUrl, sqs, logger } = options;
  const waitTimeSeconds = options.waitTimeSeconds ?? DEFAULT_WAIT_SECONDS;
  const visibility = options.visibilityTimeoutSeconds ?? DEFAULT_VISIBILITY_SECONDS;
  const emptyToStop = waitTimeSeconds > 0 ? 1 : 2;
  const summary: WorkerSummary = { processed: 0, failed: 0 };
  const stop = options.signal ?? new AbortController().signal;
  let empty = 0;
  let receiveErrors = 0;
  while (!stop.aborted) {
    let messages: Message[];
    try {
      ({ Messages: messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 1,
          WaitTimeSeconds: waitTimeSeconds,
          VisibilityTimeout: visibility,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
        { abortSignal: stop },
      ));
    } catch (error) {
      if (stop.aborted) break;
      // A wrong queue URL or missing permission will not get better; the rest (network, SQS) may.
      if ((error as { $fault?: string }).$fault === 'client' || ++receiveErrors >= RECEIVE_ATTEMPTS) throw error;
      logger?.warn('Could not receive from the queue; trying again', { error: error as Error });
      await new Promise((resolve) => setTimeout(resolve, 1000 * receiveErrors));
      continue;
    }
    receiveErrors = 0;
    if (messages.length === 0) {
      if (options.untilEmpty && ++empty >= emptyToStop) break;
      continue;
    }
    empty = 0;
    for (const message of messages) {
      const ok = await work(message, options, visibility, logger);
      if (ok) summary.processed++;
      else summary.failed++;
    }
  }
  return summary;
}

/** Handles one message while renewing its visibility; deletes it when handled. True when it was. */
async function work(
  message: Message,
  options: WorkerOptions,
  visibility: number,
  logger: Logger | undefined,
): Promise<boolean> {
  const { queueUrl, sqs } = options;
  const receipt = { QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle };
  const heartbeat = setInterval(
    () => {
      sqs.send(new ChangeMessageVisibilityCommand({ ...receipt, VisibilityTimeout: visibility })).catch((error) => {
        logger?.warn('Could not extend the message visibility', { messageId: message.MessageId, error });
      });
    },
    (visibility * 1000) / 3,
  );
  try {
    // Not cut short by the worker's stop signal: a message already received is finished.
    const result = await options.handle(message.Body ?? '');
    clearInterval(heartbeat);
    await sqs.send(new DeleteMessageCommand(receipt));
    logger?.info('Batch message handled', { messageId: message.MessageId, result });
    return true;
  } catch (error) {
    logger?.error('Batch message failed; it will be delivered again', {
      messageId: message.MessageId,
      receiveCount: message.Attributes?.ApproximateReceiveCount,
      error: error as Error,
    });
    return false;
  } finally {
    clearInterval(heartbeat);
  }
}

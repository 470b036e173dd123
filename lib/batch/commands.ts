/**
 * What `classify batch <command>` does once its arguments are checked (lib/cli/batch.ts): each
 * command on the batch modules, with the AWS clients built from Config. Kept apart from the
 * parsing so the AWS SDK is loaded only when a batch command runs.
 */
import path from 'node:path';
import type { BatchCommand, QueueChoice } from '../cli/batch.ts';
import type { CliContext } from '../cli/main.ts';
import type { Config } from '../config.ts';
import { createLogger } from '../logger.ts';
import { createCloudFormationClient, createS3Client, createSqsClient } from './aws-clients.ts';
import { createChunkRuntime } from './chunk-runtime.ts';
import { processChunk } from './process-chunk.ts';
import { queueUrlOfStage } from './stack-queue.ts';
import { type JobStatus, jobStatus, writeResults } from './status.ts';
import { submitJob } from './submit.ts';
import { runWorker } from './worker.ts';

type Command = Exclude<BatchCommand, { command: 'help' }>;

/** Errors of the code itself, worth their stack; any other is a message for the person at the terminal. */
const BUGS = [TypeError, ReferenceError, SyntaxError];

const describe = (error: unknown): string => {
  const { name, message } = error as Error;
  return !name || name === 'Error' ? message : `${name}: ${message}`;
};

async function queueUrl(queue: QueueChoice): Promise<string> {
  if ('url' in queue) return queue.url;
  const cloudFormation = createCloudFormationClient();
  try {
    return await queueUrlOfStage(cloudFormation, queue.stage);
  } finally {
    cloudFormation.destroy();
  }
}

export async function runBatchCommand(command: Command, config: Config, context: CliContext): Promise<number> {
  const { stderr } = context;
  try {
    return await run(command, config, context);
  } catch (error) {
    stderr.write(`classify batch ${command.command}: ${describe(error)}\n`);
    if (BUGS.some((bug) => error instanceof bug)) stderr.write(`${(error as Error).stack}\n`);
    return 1;
  }
}

async function run(command: Command, config: Config, context: CliContext): Promise<number> {
  const { stdout } = context;
  if (command.command === 'work') return work(command, config, context);
  const s3 = createS3Client(config);
  try {
    switch (command.command) {
      case 'submit': {
        const sqs = createSqsClient();
        try {
          const job = await submitJob(
            {
              input: command.input,
              output: command.output,
              queueUrl: await queueUrl(command.queue),
              chunkSize: command.chunk,
              topK: command.top,
              model: path.basename(path.resolve(config.modelDir)),
            },
            { s3, sqs },
          );
          stdout.write(
            command.json
              ? `${JSON.stringify(job)}\n`
              : `${job.jobId}\n${job.images} images in ${job.chunks} chunks queued; manifest ${job.manifest}\n`,
          );
          return 0;
        } finally {
          sqs.destroy();
        }
      }
      case 'status': {
        const status = await jobStatus(s3, command.output, command.jobId);
        stdout.write(command.json ? `${JSON.stringify(status)}\n` : `${statusText(status)}\n`);
        return 0;
      }
      case 'results': {
        const { parts, chunks } = await writeResults(s3, command.output, command.jobId, stdout);
        if (parts === chunks) return 0;
        context.stderr.write(
          `classify batch results: ${parts} of ${chunks} parts written so far; the other chunks' images are missing.\n`,
        );
        return 1;
      }
    }
  } finally {
    s3.destroy();
  }
}

/** Works the queue until stopped (SIGINT, SIGTERM), or until it is empty with --until-empty. */
async function work(command: Extract<Command, { command: 'work' }>, config: Config, context: CliContext) {
  const { stdout, stderr } = context;
  const logger = createLogger(config);
  const batch = createChunkRuntime(config, { logger });
  const sqs = createSqsClient();
  const stop = new AbortController();
  const onSignal = () => {
    stderr.write('classify batch work: stopping once the message in hand is done\n');
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const url = await queueUrl(command.queue);
    let deps: Awaited<ReturnType<typeof batch.deps>>;
    try {
      deps = await batch.deps();
    } catch (error) {
      stderr.write(`classify batch work: the model could not be loaded: ${(error as Error).message}\n`);
      return 1;
    }
    const summary = await runWorker({
      queueUrl: url,
      sqs,
      untilEmpty: command.untilEmpty,
      waitTimeSeconds: command.waitSeconds,
      visibilityTimeoutSeconds: command.visibilitySeconds,
      signal: stop.signal,
      logger,
      handle: async (body) => {
        try {
          const result = await processChunk(body, deps);
          stdout.write(
            `${result.part}: ${result.images} images, ${result.classified} classified, ${result.failed} failed\n`,
          );
          return result;
        } catch (error) {
          stderr.write(`classify batch work: a message failed and will be delivered again: ${describe(error)}\n`);
          throw error;
        }
      },
    });
    stderr.write(`classify batch work: ${summary.processed} chunks done, ${summary.failed} failed\n`);
    return summary.failed > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    sqs.destroy();
    await batch.close();
  }
}

function statusText(status: JobStatus): string {
  const more = status.missingChunks.length < status.chunks - status.partsDone ? ', ...' : '';
  const failures = Object.entries(status.failuresByCode)
    .sort(([, a], [, b]) => b - a)
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  return [
    `job      ${status.jobId} (${status.complete ? 'complete' : 'in progress'})`,
    `input    ${status.input}`,
    `output   ${status.output}`,
    `model    ${status.model}, top ${status.top_k}, submitted ${status.createdAt}`,
    `parts    ${status.partsDone} of ${status.chunks}`,
    `images   ${status.images}: ${status.classified} classified, ${status.failed} failed`,
    ...(failures ? [`failures ${failures}`] : []),
    ...(status.complete ? [] : [`missing  chunks ${status.missingChunks.join(', ')}${more}`]),
  ].join('\n');
}

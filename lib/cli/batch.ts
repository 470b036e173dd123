/**
 * `classify batch`: submits an S3 prefix as a batch job on SQS, works the queue in this process,
 * and reads a job's status and results. Its own parsing, so `classify`'s stays as it was; main.ts
 * hands it the arguments after `batch`. AWS is reached as the SDK is configured (region,
 * credentials, AWS_ENDPOINT_URL); batch work loads the model as `classify` does.
 */
import { parseArgs } from 'node:util';
import { JOB_ID_PATTERN, type S3Prefix, S3UrlError, parseS3Url } from '../batch/locations.ts';
import { type Config, ENGINE_CHOICES, type EngineChoice, loadConfig } from '../config.ts';
import { MAX_TOP_K } from '../schemas.ts';
import type { CliContext } from './main.ts';

export const BATCH_USAGE = `Usage: classify batch <command> [options]

Classifies every image under an S3 prefix as a batch job: submit lists the images and queues them
on SQS in chunks; workers (classify batch work, or the deployed Lambda function) write one JSON-lines
part per chunk under <output>/<job-id>/; status and results read them back.

Commands:
  submit s3://<bucket>/<prefix> --output s3://<bucket>/<prefix> (--queue <url> | --stage <name>)
      [--chunk <n>]        images per chunk: one message, one part (1-1000, default 64)
      [--top <k>]          predictions per image (1-${MAX_TOP_K}, default 1)
      [--json]             print the job as JSON
  work (--queue <url> | --stage <name>)
      [--until-empty]      stop once the queue is empty, instead of polling until Ctrl-C
      [--wait <s>]         long-poll seconds (0-20, default 20)
      [--visibility <s>]   seconds a message is hidden from other workers, renewed while worked on
                           (default 60)
      [--model-dir <dir>] [--engine <name>]   as for classify
  status <job-id> --output s3://<bucket>/<prefix> [--json]
                           parts done, images classified and failed, failures by code
  results <job-id> --output s3://<bucket>/<prefix>
                           every part written, in order, as one JSON-lines stream on stdout

--stage <name> takes the queue from the deployed stack image-classifier-<name> (output
BatchQueueUrl). AWS settings are the AWS SDK's: AWS_REGION (default us-east-1), AWS_PROFILE or
the other credentials variables, AWS_ENDPOINT_URL; S3_FORCE_PATH_STYLE=true for S3-compatible
stores.

Exit status: 0 on success; 1 when something failed (submit, a message of work, a missing job),
or results found parts missing; 2 on a usage error.`;

export class BatchUsageError extends Error {
  override readonly name = 'BatchUsageError';
}

const FLAGS = {
  output: { type: 'string' },
  queue: { type: 'string' },
  stage: { type: 'string' },
  chunk: { type: 'string' },
  top: { type: 'string' },
  json: { type: 'boolean' },
  'until-empty': { type: 'boolean' },
  wait: { type: 'string' },
  visibility: { type: 'string' },
  'model-dir': { type: 'string' },
  engine: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flag = keyof typeof FLAGS;

/** The flags each command takes; any other is a usage error. */
const COMMAND_FLAGS: Record<string, Flag[]> = {
  submit: ['output', 'queue', 'stage', 'chunk', 'top', 'json', 'model-dir'],
  work: ['queue', 'stage', 'until-empty', 'wait', 'visibility', 'model-dir', 'engine'],
  status: ['output', 'json'],
  results: ['output'],
};

export type BatchCommand =
  | { command: 'help' }
  | {
      command: 'submit';
      input: S3Prefix;
      output: S3Prefix;
      queue: QueueChoice;
      chunk: number;
      top: number;
      json: boolean;
      modelDir?: string;
    }
  | {
      command: 'work';
      queue: QueueChoice;
      untilEmpty: boolean;
      waitSeconds: number;
      visibilitySeconds: number;
      modelDir?: string;
      engine?: EngineChoice;
    }
  | { command: 'status'; jobId: string; output: S3Prefix; json: boolean }
  | { command: 'results'; jobId: string; output: S3Prefix; json: boolean };

export type QueueChoice = { url: string } | { stage: string };

function s3Url(text: string, what: string): S3Prefix {
  try {
    return parseS3Url(text);
  } catch (error) {
    if (error instanceof S3UrlError) throw new BatchUsageError(`${what}: ${error.message}`);
    throw error;
  }
}

function integer(value: string | undefined, flag: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max)
    throw new BatchUsageError(`--${flag} must be an integer from ${min} to ${max}, not ${JSON.stringify(value)}.`);
  return n;
}

/** The arguments after `batch`, checked; usage errors name the flag. */
export function parseBatchArgs(argv: string[]): BatchCommand {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof FLAGS }>>;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: FLAGS });
  } catch (error) {
    throw new BatchUsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...operands] = positionals;
  if (values.help || command === undefined || command === 'help') return { command: 'help' };
  const allowed = COMMAND_FLAGS[command];
  if (!allowed) throw new BatchUsageError(`Unknown batch command ${JSON.stringify(command)}.`);
  // Only the flags given are in values (none has a default here).
  for (const flag of Object.keys(values) as Flag[]) {
    if (!allowed.includes(flag)) throw new BatchUsageError(`batch ${command} does not take --${flag}.`);
  }
  const expectOperands = command === 'work' ? 0 : 1;
  if (operands.length !== expectOperands) {
    const what = command === 'submit' ? 'one input s3://<bucket>/<prefix>' : command === 'work' ? 'none' : 'one job id';
    throw new BatchUsageError(`batch ${command} takes ${what}, not ${operands.length}.`);
  }
  const output = () => {
    if (values.output === undefined)
      throw new BatchUsageError(`batch ${command} needs --output s3://<bucket>/<prefix>.`);
    return s3Url(values.output, '--output');
  };
  const queue = (): QueueChoice => {
    if ((values.queue === undefined) === (values.stage === undefined))
      throw new BatchUsageError(`batch ${command} needs one of --queue <url> or --stage <name>.`);
    if (values.queue !== undefined && !/^https?:\/\/./.test(values.queue))
      throw new BatchUsageError(`--queue must be an SQS queue URL, not ${JSON.stringify(values.queue)}.`);
    if (values.stage !== undefined && !/^[A-Za-z0-9-]+$/.test(values.stage))
      throw new BatchUsageError(
        `--stage must be a stage name (letters, digits, -), not ${JSON.stringify(values.stage)}.`,
      );
    return values.queue !== undefined ? { url: values.queue } : { stage: values.stage! };
  };
  switch (command) {
    case 'submit':
      return {
        command,
        input: s3Url(operands[0]!, 'The input'),
        output: output(),
        queue: queue(),
        chunk: integer(values.chunk, 'chunk', 1, 1000, 64),
        top: integer(values.top, 'top', 1, MAX_TOP_K, 1),
        json: values.json ?? false,
        modelDir: values['model-dir'],
      };
    case 'work': {
      if (values.engine !== undefined && !(ENGINE_CHOICES as readonly string[]).includes(values.engine))
        throw new BatchUsageError(
          `--engine must be one of ${ENGINE_CHOICES.join(', ')}, not ${JSON.stringify(values.engine)}.`,
        );
      return {
        command,
        queue: queue(),
        untilEmpty: values['until-empty'] ?? false,
        waitSeconds: integer(values.wait, 'wait', 0, 20, 20),
        visibilitySeconds: integer(values.visibility, 'visibility', 1, 43_200, 60),
        modelDir: values['model-dir'],
        engine: values.engine as EngineChoice | undefined,
      };
    }
    default: {
      const jobId = operands[0]!;
      if (!JOB_ID_PATTERN.test(jobId)) throw new BatchUsageError(`${JSON.stringify(jobId)} is not a job id.`);
      return { command: command as 'status' | 'results', jobId, output: output(), json: values.json ?? false };
    }
  }
}

/** Runs `classify batch ...`; returns the exit status. */
export async function runBatchCli(context: CliContext, defaultModelDir: string): Promise<number> {
  const { stdout, stderr, env } = context;
  let command: BatchCommand;
  let config: Config;
  try {
    command = parseBatchArgs(context.argv);
    if (command.command === 'help') {
      stdout.write(`${BATCH_USAGE}\n`);
      return 0;
    }
    const modelDir = 'modelDir' in command ? command.modelDir : undefined;
    const engine = command.command === 'work' ? command.engine : undefined;
    config = loadConfig({
      LOG_LEVEL: 'SILENT',
      ...env,
      MODEL_DIR: modelDir || env.MODEL_DIR || defaultModelDir,
      ...(engine && { ENGINE: engine }),
    });
  } catch (error) {
    if (!(error instanceof BatchUsageError)) throw error;
    stderr.write(`classify batch: ${error.message}\n\n${BATCH_USAGE}\n`);
    return 2;
  }
  // Loaded only now: plain `classify` never loads the AWS SDK.
  const { runBatchCommand } = await import('../batch/commands.ts');
  return runBatchCommand(command, config, context);
}

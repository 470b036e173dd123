/** The command line of `classify`, parsed and checked; usage errors name the flag. */
import { parseArgs } from 'node:util';
import { ENGINE_CHOICES, type EngineChoice } from '../config.ts';
import { MAX_TOP_K } from '../schemas.ts';

export const USAGE = `Usage: classify [options] <file | folder | url>...
       classify batch <submit | work | status | results> ...   (classify batch --help)

Classifies images with the bundled MobileNetV2 (or MODEL_DIR), in this process, or with a running
service (--endpoint). Folders are searched recursively for image files. \`classify batch\` runs
batch jobs over an S3 prefix through SQS.

Options:
  --top <n>            show the n most probable classes (1-${MAX_TOP_K}, default 1)
  --json               print one JSON object per image (JSON lines) instead of a table
  --endpoint <url>     classify with the service at this URL instead of in this process
  --model-dir <dir>    model folder to load (default: MODEL_DIR, else the bundled model)
  --engine <name>      ${ENGINE_CHOICES.join(', ')} (default: ENGINE, else auto)
  --progress / --no-progress
                       force the progress bar on or off (default: on when both stdout and
                       stderr are terminals and there are 5 images or more)
  -h, --help           show this help

Exit status: 0 when every image was classified, 1 when any failed or the model could not be
loaded, 2 on a usage error.`;

export interface CliOptions {
  inputs: string[];
  top: number;
  json: boolean;
  endpoint?: string;
  modelDir?: string;
  engine?: EngineChoice;
  progress?: boolean;
  help: boolean;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const FLAGS = {
  top: { type: 'string' },
  json: { type: 'boolean', default: false },
  endpoint: { type: 'string' },
  'model-dir': { type: 'string' },
  engine: { type: 'string' },
  progress: { type: 'boolean' },
  'no-progress': { type: 'boolean' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export function parseCliArgs(argv: string[]): CliOptions {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof FLAGS }>>;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: FLAGS });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const top = values.top === undefined ? 1 : Number(values.top);
  if (!Number.isInteger(top) || top < 1 || top > MAX_TOP_K)
    throw new UsageError(`--top must be an integer from 1 to ${MAX_TOP_K}, not ${JSON.stringify(values.top)}.`);
  if (values.engine !== undefined && !(ENGINE_CHOICES as readonly string[]).includes(values.engine)) {
    throw new UsageError(`--engine must be one of ${ENGINE_CHOICES.join(', ')}, not ${JSON.stringify(values.engine)}.`);
  }
  if (values.endpoint !== undefined && !/^https?:\/\/./.test(values.endpoint))
    throw new UsageError(`--endpoint must be an http(s) URL, not ${JSON.stringify(values.endpoint)}.`);
  if (values.endpoint !== undefined && (values['model-dir'] !== undefined || values.engine !== undefined)) {
    throw new UsageError('--model-dir and --engine apply to classifying in this process, not with --endpoint.');
  }
  if (!values.help && positionals.length === 0) throw new UsageError('Give at least one file, folder or URL.');
  return {
    inputs: positionals,
    top,
    json: values.json ?? false,
    endpoint: values.endpoint?.replace(/\/+$/, ''),
    modelDir: values['model-dir'],
    engine: values.engine as EngineChoice | undefined,
    progress: values['no-progress'] ? false : values.progress,
    help: values.help ?? false,
  };
}

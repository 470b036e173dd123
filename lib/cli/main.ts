/**
 * `classify`: classifies image files, folders and URLs from the command line, in this process or
 * with a running service. Returns the exit status: 0 when every image was classified, 1 when any
 * failed or the model could not be loaded, 2 on a usage error.
 */
import { BUNDLED_MODEL_DIR } from '../layout.ts';
import { parseCliArgs, USAGE, UsageError } from './args.ts';
import { runBatchCli } from './batch.ts';
import { type Backend, type CliResult, localBackend, remoteBackend } from './backends.ts';
import { expandInputs } from './inputs.ts';
import { jsonLine, progressBar, shouldShowProgress, table } from './output.ts';

export interface CliContext {
  argv: string[];
  env: Record<string, string | undefined>;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

export async function runCli(context: CliContext): Promise<number> {
  const { stdout, stderr } = context;
  // `classify batch ...`: S3 batch jobs, with their own commands and flags.
  if (context.argv[0] === 'batch') return runBatchCli({ ...context, argv: context.argv.slice(1) }, BUNDLED_MODEL_DIR);
  let options: ReturnType<typeof parseCliArgs>;
  try {
    options = parseCliArgs(context.argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    stderr.write(`classify: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (options.help) {
    stdout.write(`${USAGE}\n`);
    return 0;
  }

  const inputs = await expandInputs(options.inputs);
  if (inputs.length === 0) {
    stderr.write('classify: no image files found in the folders given.\n');
    return 1;
  }
  let backend: Backend;
  try {
    backend = options.endpoint
      ? remoteBackend({ ...options, endpoint: options.endpoint }, context.env)
      : await localBackend(options, context.env, BUNDLED_MODEL_DIR);
  } catch (error) {
    // A model folder or configuration that cannot be used: its message says what to change.
    stderr.write(`classify: the model could not be loaded: ${(error as Error).message}\n`);
    return 1;
  }
  const showProgress = shouldShowProgress({
    forced: options.progress,
    stdoutIsTTY: stdout.isTTY === true,
    stderrIsTTY: stderr.isTTY === true,
    images: inputs.length,
  });
  const results: CliResult[] = [];
  try {
    for (let start = 0; start < inputs.length; start += backend.chunkSize) {
      const chunk = await backend.classify(inputs.slice(start, start + backend.chunkSize));
      results.push(...chunk);
      if (options.json) for (const result of chunk) stdout.write(`${jsonLine(result)}\n`);
      if (showProgress) stderr.write(`\r${progressBar(results.length, inputs.length)}`);
    }
  } finally {
    if (showProgress) stderr.write('\r\x1b[2K');
    await backend.close();
  }
  if (!options.json) stdout.write(`${table(results, options.top)}\n`);
  return results.every((result) => result.ok) ? 0 : 1;
}

/**
 * Where `classify` runs the model: in this process (the service's own pipeline, classifyEach, with
 * its retriever reading files too), or through a running service's POST /v1/predict. Both take a
 * chunk of inputs and give one result per input, in order.
 */
import { loadConfig } from '../config.ts';
import { ImageError } from '../errors.ts';
import { readImageFile } from '../images/read-file.ts';
import type { RetrievableSource } from '../images/retrieve.ts';
import type { Prediction } from '../model/predictions.ts';
import type { ErrorBody, ImageResult } from '../schemas.ts';
import { createRuntime } from '../runtime.ts';
import { classifyEach } from '../service.ts';
import type { CliOptions } from './args.ts';
import type { CliInput } from './inputs.ts';

export type CliResult =
  | { label: string; ok: true; predictions: Prediction[] }
  | { label: string; ok: false; code: string; message: string };

export interface Backend {
  /** Images sent at once: a model batch in-process, a request's worth to a service. */
  readonly chunkSize: number;
  classify(inputs: CliInput[]): Promise<CliResult[]>;
  close(): Promise<void>;
}

/** A file or folder named on the command line that was not there: it fails on its own, as a bad image does. */
const missing = (input: CliInput): CliResult => failed(input, new ImageError('FILE_NOT_FOUND'));

function failed(input: CliInput, error: unknown): CliResult {
  if (!(error instanceof ImageError)) throw error;
  return { label: input.label, ok: false, code: error.code, message: error.message };
}

/**
 * In this process. Settings come from the environment as for the server (MODEL_DIR, ENGINE,
 * MAX_IMAGE_PIXELS, ...), with the flags on top; private URLs are allowed unless
 * ALLOW_PRIVATE_URLS says otherwise, since the person at the terminal chose them.
 */
export async function localBackend(
  options: CliOptions,
  env: Record<string, string | undefined>,
  defaultModelDir: string,
): Promise<Backend> {
  const config = loadConfig({
    LOG_LEVEL: 'SILENT',
    ALLOW_PRIVATE_URLS: 'true',
    ...env,
    MODEL_DIR: options.modelDir || env.MODEL_DIR || defaultModelDir,
    ...(options.engine && { ENGINE: options.engine }),
  });
  // Files are read by the retriever (size checked before reading), URLs downloaded THREAD_COUNT at a time.
  const runtime = createRuntime(config, { fileSources: true });
  const deps = { classifier: await runtime.loadClassifier(), retrieve: runtime.retrieve };
  return {
    chunkSize: config.batchSize * 4,
    async classify(inputs) {
      const sources = inputs.flatMap((input): RetrievableSource[] =>
        input.kind === 'url' ? [{ url: input.url }] : input.kind === 'file' ? [{ file: input.file }] : [],
      );
      const { outcomes } = await classifyEach({ images: sources, top_k: options.top }, deps);
      let next = 0;
      return inputs.map((input): CliResult => {
        if (input.kind === 'missing') return missing(input);
        const outcome = outcomes[next++]!;
        if (!outcome.ok) return failed(input, outcome.error);
        // With top_k 1 the result is the one prediction; above, it lists them all.
        return { label: input.label, ok: true, predictions: outcome.result.predictions ?? [outcome.result] };
      });
    },
    close: runtime.close,
  };
}

type ApiImage = ImageResult;
type ApiError = ErrorBody;

const MAX_ATTEMPTS = 4;

/**
 * Through a running service. A request that names failing images is sent again without them,
 * so the others still get their predictions; a 503 is retried after its Retry-After.
 */
export function remoteBackend(
  options: CliOptions & { endpoint: string },
  env: Record<string, string | undefined>,
): Backend {
  // The service says which images are too large; this only keeps a huge file out of memory.
  const { maxImageBytes } = loadConfig(env);
  const url = `${options.endpoint}/v1/predict`;
  const post = async (images: object[]): Promise<{ status: number; body: { images: ApiImage[] } & ApiError }> => {
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ images, top_k: options.top }),
        });
      } catch (error) {
        const reason = ((error as Error).cause as Error | undefined)?.message ?? (error as Error).message;
        return {
          status: 0,
          body: {
            images: [],
            code: 'SERVICE_UNREACHABLE',
            message: `Could not reach ${options.endpoint}: ${reason}`,
          },
        };
      }
      const body = (await response.json().catch(() => ({
        images: [],
        code: `HTTP_${response.status}`,
        message: `The service answered ${response.status} without a JSON body.`,
      }))) as { images: ApiImage[] } & ApiError;
      if (response.status !== 503 || attempt === MAX_ATTEMPTS) return { status: response.status, body };
      await new Promise((resolve) => setTimeout(resolve, 1000 * Number(response.headers.get('retry-after') ?? 1)));
    }
  };
  return {
    // Keeps requests well under API Gateway's and Lambda's 6 MB, even with large photos.
    chunkSize: 4,
    async classify(inputs) {
      const results: Array<CliResult | undefined> = inputs.map((input) =>
        input.kind === 'missing' ? missing(input) : undefined,
      );
      const payload = await Promise.all(
        inputs.map(async (input, i) => {
          if (input.kind !== 'file') return input.kind === 'url' ? { url: input.url } : undefined;
          try {
            return { data: (await readImageFile(input.file, maxImageBytes)).toString('base64') };
          } catch (error) {
            results[i] = failed(input, error);
            return undefined;
          }
        }),
      );
      for (let attempt = 0; attempt < 2; attempt++) {
        const pending = inputs.map((_, i) => i).filter((i) => results[i] === undefined);
        if (pending.length === 0) break;
        const { status, body } = await post(pending.map((i) => payload[i]!));
        if (status === 200) {
          pending.forEach((i, j) => {
            const image = body.images[j]!;
            results[i] = {
              label: inputs[i]!.label,
              ok: true,
              predictions: image.predictions ?? [{ score: image.score, category: image.category, name: image.name }],
            };
          });
        } else if (body.code === 'IMAGES_REJECTED' && body.errors?.length) {
          for (const entry of body.errors) {
            const i = pending[entry.index ?? -1];
            if (i !== undefined)
              results[i] = { label: inputs[i]!.label, ok: false, code: entry.code, message: entry.message };
          }
        } else {
          for (const i of pending)
            results[i] = { label: inputs[i]!.label, ok: false, code: body.code, message: body.message };
        }
      }
      return results.map(
        (result, i) =>
          result ?? {
            label: inputs[i]!.label,
            ok: false,
            code: 'NOT_CLASSIFIED',
            message: 'The service did not classify this image.',
          },
      );
    },
    async close() {},
  };
}

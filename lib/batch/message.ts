/**
 * The SQS message of one chunk of a batch job, as submitJob sends it and processChunk takes it:
 * `{ jobId, chunk, input: { bucket }, keys: [...], output: { bucket, prefix }, top_k }`. It names
 * everything a worker needs, so any worker (local or Lambda) can take any chunk without the manifest.
 * A message that does not match is refused whole: retried, then left in the dead-letter queue.
 */
import { MAX_TOP_K } from '../schemas.ts';
import { JOB_ID_PATTERN } from './locations.ts';

export interface ChunkMessage {
  jobId: string;
  /** 0-based; names the part the chunk writes. */
  chunk: number;
  input: { bucket: string };
  /** The chunk's image keys in `input.bucket`, in the order the part lists them. */
  keys: string[];
  /** The job's output: its files go under `<prefix>/<jobId>/`. */
  output: { bucket: string; prefix: string };
  top_k: number;
}

export class MalformedMessageError extends Error {
  override readonly name = 'MalformedMessageError';
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isName = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

/** The message, from its JSON body or already parsed, checked: MalformedMessageError names the field. */
export function parseChunkMessage(message: unknown): ChunkMessage {
  let value: unknown = message;
  if (typeof message === 'string') {
    try {
      value = JSON.parse(message);
    } catch {
      throw new MalformedMessageError('The message body is not JSON.');
    }
  }
  const problem = (field: string, rule: string) => new MalformedMessageError(`The message's ${field} ${rule}.`);
  if (!isObject(value)) throw new MalformedMessageError('The message body is not a JSON object.');
  const { jobId, chunk, input, keys, output, top_k } = value;
  if (typeof jobId !== 'string' || !JOB_ID_PATTERN.test(jobId)) throw problem('jobId', 'is not a job id');
  if (!Number.isSafeInteger(chunk) || (chunk as number) < 0) throw problem('chunk', 'is not a whole number');
  if (!isObject(input) || !isName(input.bucket)) throw problem('input.bucket', 'is not a bucket name');
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every(isName))
    throw problem('keys', 'is not a list of object keys');
  if (!isObject(output) || !isName(output.bucket)) throw problem('output.bucket', 'is not a bucket name');
  if (typeof output.prefix !== 'string') throw problem('output.prefix', 'is not a string');
  if (!Number.isInteger(top_k) || (top_k as number) < 1 || (top_k as number) > MAX_TOP_K)
    throw problem('top_k', `is not an integer from 1 to ${MAX_TOP_K}`);
  return {
    jobId,
    chunk: chunk as number,
    input: { bucket: input.bucket },
    keys: keys as string[],
    output: { bucket: output.bucket, prefix: output.prefix },
    top_k: top_k as number,
  };
}

/**
 * Where a batch job's things are in S3: `s3://bucket/prefix` as the command line spells it, the
 * image keys a prefix holds, and the job's files under its output prefix:
 * `<prefix>/<job-id>/manifest.json` and one `part-<chunk>.jsonl` per chunk, numbered so they sort.
 */
import path from 'node:path';
import { IMAGE_EXTENSIONS } from '../cli/inputs.ts';

export interface S3Prefix {
  bucket: string;
  /** Taken as S3 takes it: `photos` also holds `photos2/a.jpg`; `photos/` does not. May be empty. */
  prefix: string;
}

/** A job id: created by submitJob, and the name of the job's folder under its output prefix. */
export const JOB_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Digits of a part's chunk number: parts sort by name up to 10^6 chunks. */
const PART_DIGITS = 6;

export class S3UrlError extends Error {
  override readonly name = 'S3UrlError';
}

/** `s3://bucket/prefix` (the prefix may be empty); anything else is refused, naming what was given. */
export function parseS3Url(text: string): S3Prefix {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(text);
  const bucket = match?.[1];
  if (!bucket || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    throw new S3UrlError(`Expected s3://<bucket>/<prefix>, not ${JSON.stringify(text)}.`);
  return { bucket, prefix: match?.[2] ?? '' };
}

export const formatS3Url = ({ bucket, prefix }: S3Prefix): string => `s3://${bucket}/${prefix}`;

/** An image by its key's extension, in any case (`.JPG` too), as `classify` takes files. */
export const isImageKey = (key: string): boolean => IMAGE_EXTENSIONS.has(path.posix.extname(key).toLowerCase());

/** The job's folder: `<prefix>/<job-id>/` (no leading slash when the prefix is empty). */
export function jobFolder(outputPrefix: string, jobId: string): string {
  const base = outputPrefix.replace(/\/+$/, '');
  return base ? `${base}/${jobId}/` : `${jobId}/`;
}

export const manifestKey = (outputPrefix: string, jobId: string): string =>
  `${jobFolder(outputPrefix, jobId)}manifest.json`;

export const partKey = (outputPrefix: string, jobId: string, chunk: number): string =>
  `${jobFolder(outputPrefix, jobId)}part-${String(chunk).padStart(PART_DIGITS, '0')}.jsonl`;

/** The chunk number of a part's key, or undefined for any other key. */
export function chunkOfPartKey(key: string): number | undefined {
  const match = /(?:^|\/)part-(\d+)\.jsonl$/.exec(key);
  return match ? Number(match[1]) : undefined;
}

/**
 * An S3 object's bytes, for batch jobs only (the retriever's `{ s3 }` sources): the API never reads
 * S3. The size is capped like a download's: from ContentLength before reading, then while streaming.
 * What concerns one object (missing, access denied, archived) fails that image alone (OBJECT_*);
 * anything else (S3 failing, throttling, the network, the credentials) is thrown as is, so the
 * chunk fails as a whole and is retried.
 */
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { ImageError, imageTooLarge } from '../errors.ts';
import { readCapped } from '../read-capped.ts';
import type { S3ObjectReader } from './retrieve.ts';

/** Errors about the caller's credentials rather than the object: every image would fail alike. */
const CREDENTIAL_ERRORS = new Set([
  'ExpiredToken',
  'InvalidAccessKeyId',
  'InvalidToken',
  'SignatureDoesNotMatch',
  'TokenRefreshRequired',
]);

export function createS3ObjectReader(s3: S3Client): S3ObjectReader {
  return async ({ bucket, key }, maxBytes, signal) => {
    let response: GetObjectCommandOutput;
    try {
      response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    } catch (error) {
      throw objectError(error) ?? error;
    }
    const body = response.Body as (AsyncIterable<Buffer> & { destroy?: () => void }) | undefined;
    if (!body) return Buffer.alloc(0);
    try {
      return await readCapped(body, response.ContentLength?.toString(), maxBytes, () => imageTooLarge(maxBytes));
    } finally {
      // Refused on its ContentLength, the body was never read: release its connection.
      body.destroy?.();
    }
  };
}

/** OBJECT_NOT_FOUND or OBJECT_UNREADABLE for S3's answers about this object; undefined for the rest. */
function objectError(error: unknown): ImageError | undefined {
  if (!(error instanceof S3ServiceException) || error.$fault !== 'client') return undefined;
  const { name } = error;
  const status = error.$metadata.httpStatusCode;
  if (CREDENTIAL_ERRORS.has(name) || status === 408 || status === 429) return undefined;
  if (name === 'NoSuchBucket') return new ImageError('OBJECT_NOT_FOUND', 'No such S3 bucket.', { cause: error });
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404)
    return new ImageError('OBJECT_NOT_FOUND', undefined, { cause: error });
  return new ImageError('OBJECT_UNREADABLE', `The S3 object could not be read (${name}).`, { cause: error });
}

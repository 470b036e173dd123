/**
 * An image file's bytes, for the `classify` command line only (in-process through the retriever's
 * file sources, or base64-encoded for a service): the API never reads files.
 */
import { readFile, stat } from 'node:fs/promises';
import { ImageError, imageTooLarge } from '../errors.ts';

/** The file's bytes; its size is checked before it is read, so a huge file is never loaded. */
export async function readImageFile(file: string, maxBytes: number): Promise<Buffer> {
  let bytes: Buffer;
  try {
    if ((await stat(file)).size > maxBytes) throw imageTooLarge(maxBytes);
    bytes = await readFile(file);
  } catch (error) {
    if (error instanceof ImageError) throw error;
    throw fileError(error);
  }
  // The file may have grown since stat.
  if (bytes.length > maxBytes) throw imageTooLarge(maxBytes);
  return bytes;
}

/** FILE_NOT_FOUND when nothing is there (any more), else FILE_UNREADABLE with the reason (ENXIO, EACCES, ...). */
function fileError(error: unknown): ImageError {
  const { code } = error as NodeJS.ErrnoException;
  if (code === 'ENOENT') return new ImageError('FILE_NOT_FOUND', undefined, { cause: error });
  return new ImageError('FILE_UNREADABLE', `The file could not be read (${code ?? (error as Error).message}).`, {
    cause: error,
  });
}

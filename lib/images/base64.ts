/**
 * Strict base64 for the `data` field. Node's decoder silently skips characters it does not know,
 * which would turn a typo into a confusing "not an image"; here the text must be base64 (standard or
 * URL-safe alphabet, padding optional but correct if present), with whitespace such as line breaks
 * ignored. The size is checked from the length, before anything is allocated. Large images make
 * this a hot path: well-formed text is decoded and checked in one pass.
 */
import type { PooledBuffer } from '../buffer-pool.ts';
import { ImageError, imageTooLarge } from '../errors.ts';

const BASE64 = /^[A-Za-z0-9+/\-_]*$/;
const WHITESPACE = /[\t\n\r ]/;

export function decodeBase64Image(text: string, maxBytes: number): Buffer {
  return decodeUnbrokenBase64(text, maxBytes) ?? decodeStrictly(text, maxBytes);
}

/**
 * The common case in one pass, or undefined for anything else: unbroken base64 decodes to exactly
 * 3/4 of its unpadded length. Node's decoder skips or stops at any other character, which always
 * yields fewer bytes, so a length mismatch sends the text to the strict path (whitespace, or an
 * error to report).
 */
export function decodeUnbrokenBase64(text: string, maxBytes: number): Buffer | undefined {
  const expected = unbrokenLength(text.length, text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0);
  if (expected === undefined || expected > maxBytes) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.length === expected ? bytes : undefined;
}

/** Slices of base64 text decoded at a time: a multiple of 4, and small enough for V8's young generation. */
const SLICE_CHARS = 16 * 1024;
const PAD = 0x3d;

/**
 * decodeUnbrokenBase64 for text still in bytes (a request body): decoded a slice at a time, so no
 * string as long as the whole photo is made, which V8 would copy and then have to collect.
 */
export function decodeUnbrokenBase64Bytes(
  text: Buffer,
  allocate: (size: number) => PooledBuffer,
): PooledBuffer | undefined {
  const end = text.length;
  const expected = unbrokenLength(end, text[end - 1] === PAD ? (text[end - 2] === PAD ? 2 : 1) : 0);
  if (expected === undefined) return undefined;
  const memory = allocate(expected);
  let written = 0;
  for (let start = 0; start < end; start += SLICE_CHARS) {
    const slice = text.toString('latin1', start, Math.min(end, start + SLICE_CHARS));
    written += memory.data.write(slice, written, 'base64');
  }
  if (written === expected) return memory;
  memory.release();
  return undefined;
}

/** What unbroken base64 of this length and padding decodes to, or undefined if no such text is well formed. */
function unbrokenLength(textLength: number, padding: number): number | undefined {
  const length = textLength - padding;
  if (length === 0 || length % 4 === 1 || (padding > 0 && textLength % 4 !== 0)) return undefined;
  return Math.floor((length * 3) / 4);
}

function decodeStrictly(text: string, maxBytes: number): Buffer {
  const compact = WHITESPACE.test(text) ? text.replace(/[\t\n\r ]+/g, '') : text;
  const unpadded = compact.replace(/=+$/, '');
  const padding = compact.length - unpadded.length;
  if (padding > 2) throw new ImageError('IMAGE_DATA_INVALID', 'The data is not valid base64: its padding is wrong.');
  if (!BASE64.test(unpadded)) {
    throw new ImageError(
      'IMAGE_DATA_INVALID',
      'The data is not valid base64: it has characters outside the base64 alphabet.',
    );
  }
  if (unpadded.length % 4 === 1 || (padding > 0 && compact.length % 4 !== 0)) {
    throw new ImageError('IMAGE_DATA_INVALID', 'The data is not valid base64: its length or padding is wrong.');
  }
  if (unpadded.length === 0) throw new ImageError('IMAGE_DATA_INVALID', 'The data is empty.');
  const decodedBytes = Math.floor((unpadded.length * 3) / 4);
  if (decodedBytes > maxBytes) {
    throw imageTooLarge(maxBytes);
  }
  return Buffer.from(unpadded, 'base64');
}

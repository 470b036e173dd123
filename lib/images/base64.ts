/**
 * Strict base64 for the `data` field. Node's decoder silently skips characters it does not know,
 * which would turn a typo into a confusing "not an image"; here the text must be base64 (standard or
 * URL-safe alphabet, padding optional but correct if present), with whitespace such as line breaks
 * ignored. The size is checked from the length, before anything is allocated. Large images make
 * this a hot path: well-formed text is decoded and checked in one pass.
 */
import { ImageError, imageTooLarge } from '../errors.ts';

const BASE64 = /^[A-Za-z0-9+/\-_]*$/;
const WHITESPACE = /[\t\n\r ]/;

export function decodeBase64Image(text: string, maxBytes: number): Buffer {
  return decodeWellFormed(text, maxBytes) ?? decodeStrictly(text, maxBytes);
}

/**
 * The common case in one pass: unbroken base64 decodes to exactly 3/4 of its unpadded length.
 * Node's decoder skips or stops at any other character, which always yields fewer bytes, so a
 * length mismatch sends the text to the strict path (whitespace, or an error to report).
 */
function decodeWellFormed(text: string, maxBytes: number): Buffer | undefined {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const length = text.length - padding;
  const expected = Math.floor((length * 3) / 4);
  if (length === 0 || length % 4 === 1 || (padding > 0 && text.length % 4 !== 0) || expected > maxBytes)
    return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.length === expected ? bytes : undefined;
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

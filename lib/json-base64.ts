/**
 * JSON.parse for bodies that carry images as base64, without turning megabytes of base64 into
 * JavaScript strings twice. Parsed the plain way, a body of eight photos (about 4 MB) becomes one
 * string as large, JSON.parse copies each image's text out of it again, and the collector then
 * walks all of it: on the JPEG-only load that was 40 ms of the event loop per request, more than
 * the engine's time for its images.
 *
 * Here the body's bytes are scanned for string tokens (memchr through Buffer.indexOf). A long one
 * made only of the base64 alphabet is decoded straight from the bytes and replaced, in the text
 * given to JSON.parse, by a short placeholder; a reviver then puts the bytes beside the object that
 * held them (takeLiftedBase64). Every other string, and any long one that is not clean base64
 * (escapes, whitespace, a stray character), stays in the text and is parsed as before, so the
 * answer to a malformed body is unchanged: a replaced token is a valid string token wherever it
 * stands, and the text around it is the body's own.
 */
import { randomBytes } from 'node:crypto';
import { type PooledBuffer, createBufferPool } from './buffer-pool.ts';
import { decodeUnbrokenBase64Bytes } from './images/base64.ts';

/** Shorter strings cost JSON.parse little; lifting them would cost more than it saves. */
const MIN_LIFTED_LENGTH = 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/** Unguessable, so no string a client sends can pass for one of ours. */
const PLACEHOLDER_PREFIX = `\u0000lifted-${randomBytes(12).toString('hex')}:`;
/** What the `data` field reads once its bytes are lifted: the schema sees a non-empty string. */
const LIFTED_STAND_IN = '(base64, decoded on receipt)';

const lifted = new WeakMap<object, PooledBuffer>();

/**
 * Decoded images wait here for their decode, a second or more under load. Decoded into fresh
 * buffers, they doubled V8's full collections on the JPEG-only load (46 in 10 s, against 24 with
 * the body parsed the plain way): megabytes of external memory per request that outlive two
 * scavenges, and external memory is what V8 counts towards a full collection. Reused, they add
 * none. Memory not given back (a request refused before its images are decoded) is simply collected.
 */
const decodedMemory = createBufferPool({ keptBytes: 12 * 2 ** 20, maxBufferBytes: 4 * 2 ** 20 });

/**
 * The body's JSON, with long base64 values of `data` fields already decoded (takeLiftedBase64), or
 * undefined when the body has no such string: then the caller parses it the plain way. Throws
 * JSON.parse's SyntaxError for malformed JSON.
 */
export function parseJsonLiftingBase64(body: Buffer): unknown | undefined {
  const pieces: Buffer[] = [];
  const decoded: Array<{ bytes: PooledBuffer; text: Buffer }> = [];
  let copiedUpTo = 0;
  let position = 0;
  while (position < body.length) {
    const open = body.indexOf(QUOTE, position);
    if (open === -1) break;
    const close = closingQuote(body, open + 1);
    if (close === -1) break;
    position = close + 1;
    if (close - open - 1 < MIN_LIFTED_LENGTH || isObjectKey(body, close + 1)) continue;
    const text = body.subarray(open + 1, close);
    if (text.indexOf(BACKSLASH) !== -1) continue;
    const bytes = decodeUnbrokenBase64Bytes(text, decodedMemory);
    if (!bytes) continue;
    pieces.push(body.subarray(copiedUpTo, open), Buffer.from(JSON.stringify(PLACEHOLDER_PREFIX + decoded.length)));
    decoded.push({ bytes, text });
    copiedUpTo = close + 1;
  }
  if (decoded.length === 0) return undefined;
  // Bytes whose holder JSON.parse drops (a repeated key) are simply collected.
  pieces.push(body.subarray(copiedUpTo));
  const skeleton = Buffer.concat(pieces).toString('utf8');
  try {
    return JSON.parse(skeleton, function restore(this: object, key, value: unknown) {
      if (typeof value !== 'string' || !value.startsWith(PLACEHOLDER_PREFIX)) return value;
      const { bytes, text } = decoded[Number(value.slice(PLACEHOLDER_PREFIX.length))]!;
      if (key === 'data') {
        lifted.set(this, bytes);
        return LIFTED_STAND_IN;
      }
      // Anywhere else the string is only text (a URL, an unknown field): give it back as it was.
      return text.toString('latin1');
    });
  } catch (error) {
    // The reviver walks the value recursively, which JSON.parse alone does not: JSON nested
    // deeper than the stack allows is left to the plain way, so it gets the same answer as before.
    if (error instanceof RangeError) return undefined;
    throw error;
  }
}

/**
 * The bytes parseJsonLiftingBase64 decoded for this object's `data`, handed over once; release()
 * them when nothing reads them any more.
 */
export function takeLiftedBase64(holder: object): PooledBuffer | undefined {
  const bytes = lifted.get(holder);
  lifted.delete(holder);
  return bytes;
}

/** The index of the quote that closes a string whose text starts at `from`, or -1. */
function closingQuote(body: Buffer, from: number): number {
  let quote = body.indexOf(QUOTE, from);
  while (quote !== -1) {
    let backslashes = 0;
    while (quote - backslashes - 1 >= from && body[quote - backslashes - 1] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    quote = body.indexOf(QUOTE, quote + 1);
  }
  return -1;
}

/** Whether the string that ended just before `from` is an object's key (a colon follows). */
function isObjectKey(body: Buffer, from: number): boolean {
  let i = from;
  while (body[i] === 0x20 || body[i] === 0x09 || body[i] === 0x0a || body[i] === 0x0d) i++;
  return body[i] === COLON;
}

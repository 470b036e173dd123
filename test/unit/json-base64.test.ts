import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { createBufferPool } from '../../lib/buffer-pool.ts';
import { ServiceError } from '../../lib/errors.ts';
import { decodeUnbrokenBase64Bytes } from '../../lib/images/base64.ts';
import { parseJsonLiftingBase64, takeLiftedBase64 } from '../../lib/json-base64.ts';
import { parseJson } from '../../lib/request-body.ts';
import { prng } from '../helpers/prng.ts';

const photo = randomBytes(30_000);
const text = photo.toString('base64');

/**
 * What parseJson gave, with every lifted `data` put back as the text it came from, so it can be
 * compared with JSON.parse's answer: the same value, or both refuse the body.
 */
function parsedAsPlainJson(body: Buffer): { value?: unknown; refused?: boolean } {
  let value: unknown;
  try {
    value = parseJson(body);
  } catch (error) {
    assert.ok(error instanceof ServiceError && error.code === 'REQUEST_INVALID_JSON', String(error));
    return { refused: true };
  }
  const restore = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return;
    const lifted = takeLiftedBase64(node);
    if (lifted) (node as { data: string }).data = lifted.data.toString('base64');
    for (const child of Object.values(node)) restore(child);
  };
  restore(value);
  return { value };
}

function plainJson(body: Buffer): { value?: unknown; refused?: boolean } {
  try {
    return { value: JSON.parse(body.toString('utf8')) };
  } catch {
    return { refused: true };
  }
}

describe('parseJson with base64 lifted from the bytes (json-base64.ts)', () => {
  test("lifts each image's data: its bytes are handed over once, and the field still reads as a string", () => {
    const other = randomBytes(5_000);
    const body = Buffer.from(
      JSON.stringify({ images: [{ data: text }, { data: other.toString('base64') }], top_k: 3 }),
    );
    const parsed = parseJson(body) as { images: Array<{ data: string }>; top_k: number };
    assert.equal(parsed.top_k, 3);
    const [first, second] = parsed.images.map((image) => takeLiftedBase64(image));
    assert.deepEqual(first?.data, photo);
    assert.deepEqual(second?.data, other);
    assert.equal(takeLiftedBase64(parsed.images[0]!), undefined);
    for (const image of parsed.images) assert.ok(typeof image.data === 'string' && image.data.length > 0);
  });

  test('leaves short strings, keys, escaped or broken base64, and other fields as JSON.parse gives them', () => {
    const urlSafeUnpadded = randomBytes(4_000).toString('base64url');
    const cases = {
      short: { images: [{ data: photo.subarray(0, 100).toString('base64') }] },
      url: { images: [{ url: `https://example.com/${text}` }] },
      unknownField: { images: [{ data: text, note: urlSafeUnpadded }] },
      inArray: { list: [text, text] },
      key: { [text]: 1 },
      wrapped: { images: [{ data: `${text.slice(0, 2000)}\n${text.slice(2000)}` }] },
      escaped: { images: [{ data: `${text.slice(0, 2000)}\\/${text.slice(2000)}` }] },
      stray: { images: [{ data: `${text.slice(0, 2000)}*${text.slice(2000)}` }] },
      unicode: { images: [{ data: text }], note: 'café ☕' },
      // Escaped quotes do not end a string: `"\"\"AAAA…"` is one string, not base64 after two.
      escapedQuotes: { images: [{ data: `""${text}` }] },
    };
    for (const [name, value] of Object.entries(cases)) {
      const body = Buffer.from(JSON.stringify(value));
      assert.deepEqual(parsedAsPlainJson(body), plainJson(body), name);
    }
    const lifted = parseJson(Buffer.from(JSON.stringify(cases.unknownField))) as { images: Array<{ note: string }> };
    assert.equal(lifted.images[0]!.note, urlSafeUnpadded);
  });

  test('gives the same value or the same refusal as JSON.parse on 3,000 damaged bodies', () => {
    const body = Buffer.from(
      JSON.stringify({ images: [{ data: text }, { url: 'http://127.0.0.1/a.jpg' }, { data: text.slice(0, 8000) }] }),
    );
    const damages = [0x22, 0x5c, 0x00, 0x0a, 0x3d, 0x7d, 0x5d, 0x3a, 0x2c, 0x41, 0xe9];
    const random = prng(7).int;
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const damaged = Buffer.from(body);
      for (let j = 0; j <= random(3); j++) damaged[random(damaged.length)] = damages[random(damages.length)]!;
      const cut = random(10) === 0 ? damaged.subarray(0, random(damaged.length)) : damaged;
      const plain = plainJson(cut);
      if (plain.refused) refused++;
      assert.deepEqual(parsedAsPlainJson(cut), plain, `case ${i}`);
    }
    // Both kinds were exercised: bodies refused, and bodies parsed.
    assert.ok(refused > 300 && refused < 2700, `${refused} refused`);
  });

  test('leaves JSON nested deeper than the reviver can walk to the plain way, which parses it', () => {
    const depth = 100_000;
    const body = Buffer.from(`${'['.repeat(depth)}{"data":"${text}"}${']'.repeat(depth)}`);
    assert.equal(parseJsonLiftingBase64(body), undefined);
    assert.ok(Array.isArray(parseJson(body)));
  });

  test('returns undefined (parse it the plain way) when nothing is long enough to lift', () => {
    assert.equal(parseJsonLiftingBase64(Buffer.from('{"images":[{"data":"AAAA"}]}')), undefined);
  });
});

describe('decodeUnbrokenBase64Bytes', () => {
  const allocate = createBufferPool({ keptBytes: 2 ** 20, maxBufferBytes: 2 ** 20 });

  test('decodes standard, URL-safe and unpadded text across its 16 KB slices', () => {
    for (const size of [1, 2, 3, 12_287, 12_288, 12_289, 50_000]) {
      const bytes = randomBytes(size);
      for (const encoded of [bytes.toString('base64'), bytes.toString('base64url')]) {
        assert.deepEqual(decodeUnbrokenBase64Bytes(Buffer.from(encoded), allocate)?.data, bytes, `${size}`);
      }
    }
  });

  test('refuses anything but unbroken base64, wherever it stands in the text', () => {
    const long = randomBytes(30_000).toString('base64');
    for (const bad of [
      `${long.slice(0, 20_000)}\n${long.slice(20_001)}`,
      `${long.slice(0, 16_383)}=${long.slice(16_384)}`,
      `${long.slice(0, 100)}\u0001${long.slice(101)}`,
      `${long}=`,
      `${long.slice(0, -1)}!`,
      'A',
    ]) {
      assert.equal(decodeUnbrokenBase64Bytes(Buffer.from(bad, 'latin1'), allocate), undefined);
    }
  });
});

describe('createBufferPool', () => {
  test('reuses released memory for a request that fits, and keeps no more than keptBytes', () => {
    const allocate = createBufferPool({ keptBytes: 800 * 1024, maxBufferBytes: 1024 * 1024 });
    const first = allocate(300_000);
    first.data.fill(1);
    first.release();
    first.release();
    const second = allocate(200_000);
    assert.equal(second.data.buffer, first.data.buffer, 'the released buffer is taken again');
    assert.equal(second.data.length, 200_000);
    const third = allocate(200_000);
    assert.notEqual(third.data.buffer, second.data.buffer);
    const large = allocate(2 * 1024 * 1024);
    large.release();
    assert.notEqual(allocate(2 * 1024 * 1024).data.buffer, large.data.buffer, 'over maxBufferBytes: not kept');
    second.release();
    third.release();
    // Sizes are rounded up to 256 KB: 512 KB and 256 KB are kept (800 KB at most), then taken again.
    const kept = [allocate(1), allocate(1), allocate(1)];
    const buffers = new Set(kept.map((b) => b.data.buffer));
    assert.ok(buffers.has(second.data.buffer) && buffers.has(third.data.buffer));
  });
});

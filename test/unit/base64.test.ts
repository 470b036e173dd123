import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ImageError } from '../../lib/errors.ts';
import { decodeBase64Image } from '../../lib/images/base64.ts';

const bytes = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0xfb, 0xef]);
const failsWith = (code: string) => (error: unknown) => error instanceof ImageError && error.code === code;

describe('decodeBase64Image', () => {
  test('decodes standard base64 with padding', () => {
    assert.deepEqual(decodeBase64Image(bytes.toString('base64'), 100), bytes);
  });

  test('decodes the URL-safe alphabet and unpadded text', () => {
    const urlSafe = bytes.toString('base64url');
    assert.ok(/[-_]/.test(urlSafe) && !urlSafe.endsWith('='));
    assert.deepEqual(decodeBase64Image(urlSafe, 100), bytes);
  });

  test('ignores line breaks and spaces, as in MIME-wrapped base64', () => {
    const text = bytes.toString('base64');
    assert.deepEqual(decodeBase64Image(`${text.slice(0, 4)}\r\n${text.slice(4, 8)} \n${text.slice(8)}\n`, 100), bytes);
  });

  test('refuses characters outside the alphabet with IMAGE_DATA_INVALID', () => {
    assert.throws(() => decodeBase64Image('abc*defg', 100), failsWith('IMAGE_DATA_INVALID'));
    assert.throws(() => decodeBase64Image('data:image/png;base64,AAAA', 100), failsWith('IMAGE_DATA_INVALID'));
  });

  test('refuses wrong padding and impossible lengths', () => {
    assert.throws(() => decodeBase64Image('abc==', 100), failsWith('IMAGE_DATA_INVALID'));
    assert.throws(() => decodeBase64Image('ab=', 100), failsWith('IMAGE_DATA_INVALID'));
    assert.throws(() => decodeBase64Image('a===', 100), failsWith('IMAGE_DATA_INVALID'));
    assert.throws(() => decodeBase64Image('abcde', 100), failsWith('IMAGE_DATA_INVALID'));
    assert.throws(() => decodeBase64Image('ab=c', 100), failsWith('IMAGE_DATA_INVALID'));
  });

  test('names padding, not the alphabet, when the text is only or mostly padding ("====")', () => {
    for (const text of ['====', 'AAAA===', '=']) {
      assert.throws(
        () => decodeBase64Image(text, 100),
        (error: unknown) =>
          error instanceof ImageError && error.code === 'IMAGE_DATA_INVALID' && /padding/.test(error.message),
      );
    }
  });

  test('refuses text that is only whitespace', () => {
    assert.throws(() => decodeBase64Image(' \n ', 100), failsWith('IMAGE_DATA_INVALID'));
  });

  test('round-trips every length in every alphabet, and refuses any one foreign character anywhere', () => {
    const foreign = ['*', '.', '=', ':', 'é', '\u0000', '!'];
    for (let size = 1; size <= 64; size++) {
      const data = Buffer.from(Array.from({ length: size }, (_, i) => (i * 37 + size * 11) % 256));
      for (const text of [
        data.toString('base64'),
        data.toString('base64url'),
        data.toString('base64').replace(/=+$/, ''),
      ]) {
        assert.deepEqual(decodeBase64Image(text, 1000), data, text);
        for (let at = 0; at < text.length; at += 3) {
          const broken = text.slice(0, at) + foreign[at % foreign.length] + text.slice(at);
          assert.throws(() => decodeBase64Image(broken, 1000), failsWith('IMAGE_DATA_INVALID'), broken);
        }
      }
    }
  });

  test('refuses data over the byte limit from its length, with IMAGE_TOO_LARGE', () => {
    const text = Buffer.alloc(101).toString('base64');
    assert.throws(() => decodeBase64Image(text, 100), failsWith('IMAGE_TOO_LARGE'));
    assert.equal(decodeBase64Image(Buffer.alloc(100).toString('base64'), 100).length, 100);
  });
});

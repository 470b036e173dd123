/**
 * JPEGs through libjpeg-turbo (jpeg-turbo.ts) and colour profiles: the pixels must be libvips'
 * pixels, in every orientation, and a profile is applied exactly when it changes them.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { ImageError } from '../../lib/errors.ts';
import { decodeImage } from '../../lib/images/decode.ts';
import { decodeJpegTurbo, jpegTurboAvailable } from '../../lib/images/jpeg-turbo.ts';
import { FIXTURES_DIR, readFixture } from '../helpers/fixtures.ts';

const model = { width: 224, height: 224 };
const limits = { maxPixels: 50_000_000 };
const JPEGS = ['cat_720p.jpg', 'hot_dog.jpg', 'owl.jpg', 'parrot.jpg', 'kite_and_cold.jpg'];
const LINEAR = { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: true } as const;
const ADOBE_RGB = path.join(FIXTURES_DIR, 'icc/compatibleWithAdobeRGB1998.icc');

const meanAbsolute = (a: Uint8Array, b: Uint8Array) => {
  assert.equal(a.length, b.length);
  return a.reduce((sum, value, i) => sum + Math.abs(value - b[i]!), 0) / a.length;
};
/** libvips' own decode, the way the service decoded every JPEG before libjpeg-turbo. */
const libvips = (bytes: Buffer, ignoreIcc = true) =>
  sharp(bytes, { ignoreIcc }).autoOrient().resize(224, 224, LINEAR).toColourspace('srgb').raw().toBuffer();

describe('JPEG decoding with libjpeg-turbo', { skip: !jpegTurboAvailable() && 'no libjpeg-turbo here' }, () => {
  test('decodes exactly the pixels libvips decodes, and shrinks on load by 1/2, 1/4 and 1/8', async () => {
    const bytes = await readFixture('kite_and_cold.jpg');
    const full = await decodeJpegTurbo(bytes);
    const reference = await sharp(bytes, { ignoreIcc: true }).raw().toBuffer({ resolveWithObject: true });
    assert.ok(full);
    assert.deepEqual([full.width, full.height], [reference.info.width, reference.info.height]);
    assert.equal(meanAbsolute(full.data, reference.data), 0);
    for (const shrink of [2, 4, 8]) {
      const shrunk = await decodeJpegTurbo(bytes, shrink);
      assert.deepEqual([shrunk?.width, shrunk?.height], [Math.ceil(1352 / shrink), Math.ceil(900 / shrink)]);
    }
  });

  test("a 12-megapixel photo, shrunk on load by 8, gives libvips' pixels within half a level", async () => {
    const photo = await sharp(await readFixture('kite_and_cold.jpg'))
      .resize(4032, 3024, { fit: 'fill' })
      .jpeg({ quality: 90 })
      .toBuffer();
    const difference = meanAbsolute(await decodeImage(photo, model, limits), await libvips(photo));
    assert.ok(difference < 0.5, `mean difference ${difference.toFixed(3)}`);
  });

  for (const name of JPEGS) {
    test(`${name}: the service's 224x224 pixels are libvips' within half a level`, async () => {
      const bytes = await readFixture(name);
      const difference = meanAbsolute(await decodeImage(bytes, model, limits), await libvips(bytes));
      assert.ok(difference < 0.5, `mean difference ${difference.toFixed(3)}`);
    });
  }

  test('applies each EXIF orientation as libvips does', async () => {
    const width = 320;
    const height = 200;
    const raw = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        raw.set([x < width / 2 ? 250 : 10, y < height / 2 ? 240 : 20, (x * 255) / width], (y * width + x) * 3);
      }
    }
    for (let orientation = 1; orientation <= 8; orientation++) {
      const bytes = await sharp(raw, { raw: { width, height, channels: 3 } })
        .jpeg({ quality: 95 })
        .withMetadata({ orientation })
        .toBuffer();
      const difference = meanAbsolute(await decodeImage(bytes, model, limits), await libvips(bytes));
      // Turned the wrong way, the quadrants swap and the difference is over 100 levels.
      assert.ok(difference < 2, `orientation ${orientation}: mean difference ${difference.toFixed(2)}`);
    }
  });

  test('a truncated JPEG is left to libvips, which names it as before', async () => {
    const bytes = await readFixture('hot_dog.jpg');
    const truncated = bytes.subarray(0, Math.floor(bytes.length * 0.8));
    assert.equal(await decodeJpegTurbo(truncated), undefined, 'libjpeg-turbo warns, so libvips takes it');
    await assert.rejects(
      decodeImage(truncated, model, limits),
      (error: unknown) => error instanceof ImageError && error.code === 'IMAGE_CORRUPT',
    );
  });
});

describe('colour profiles', () => {
  for (const [profile, icc] of [
    ['Display P3', 'p3'],
    ['Adobe RGB', ADOBE_RGB],
  ] as const) {
    test(`a ${profile} JPEG is converted to sRGB: its pixels stay with the sRGB original's`, async () => {
      const original = await readFixture('owl.jpg');
      const copy = await sharp(original)
        .withIccProfile(icc)
        .jpeg({ quality: 95, chromaSubsampling: '4:4:4' })
        .toBuffer();
      const reference = await decodeImage(original, model, limits);
      const applied = meanAbsolute(await decodeImage(copy, model, limits), reference);
      const ignored = meanAbsolute(await libvips(copy, true), reference);
      assert.ok(applied < 1, `profile applied: mean difference ${applied.toFixed(2)}`);
      assert.ok(ignored > 2, `profile ignored would move them by ${ignored.toFixed(2)}`);
    });
  }

  test('an sRGB profile is not applied: the same pixels as without it', async () => {
    const tagged = await readFixture('hot_dog.jpg');
    assert.ok((await sharp(tagged).metadata()).icc, 'hot_dog.jpg carries an sRGB profile');
    const untagged = await sharp(tagged).keepExif().jpeg({ quality: 100 }).toBuffer();
    const retagged = await sharp(untagged).withIccProfile('srgb').jpeg({ quality: 100 }).toBuffer();
    assert.ok((await sharp(retagged).metadata()).icc);
    // Re-encoding twice would differ; instead compare one file with its profile and without.
    const stripped = stripIcc(retagged);
    assert.equal((await sharp(stripped).metadata()).icc, undefined);
    assert.deepEqual(await decodeImage(retagged, model, limits), await decodeImage(stripped, model, limits));
  });

  test('a PNG with an sRGB profile also skips colour management, a P3 one does not', async () => {
    const original = await sharp(await readFixture('owl.jpg'))
      .png()
      .toBuffer();
    const reference = await decodeImage(original, model, limits);
    const srgb = await sharp(original).withIccProfile('srgb').png().toBuffer();
    assert.deepEqual(await decodeImage(srgb, model, limits), reference);
    const p3 = await sharp(original).withIccProfile('p3').png().toBuffer();
    assert.ok(meanAbsolute(await decodeImage(p3, model, limits), reference) < 1);
    assert.ok(meanAbsolute(await libvips(p3, true), reference) > 2);
  });
});

/** The JPEG without its APP2 ICC_PROFILE segments, everything else byte for byte. */
function stripIcc(jpeg: Buffer): Buffer {
  const parts: Buffer[] = [jpeg.subarray(0, 2)];
  let p = 2;
  while (p + 4 <= jpeg.length && jpeg[p] === 0xff && jpeg[p + 1] !== 0xda) {
    const length = jpeg.readUInt16BE(p + 2);
    const segment = jpeg.subarray(p, p + 2 + length);
    const isIcc = jpeg[p + 1] === 0xe2 && segment.subarray(4, 15).toString('latin1') === 'ICC_PROFILE';
    if (!isIcc) parts.push(segment);
    p += 2 + length;
  }
  parts.push(jpeg.subarray(p));
  return Buffer.concat(parts);
}

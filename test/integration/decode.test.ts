import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { ImageError } from '../../lib/errors.ts';
import { decodeImage } from '../../lib/images/decode.ts';
import { sniffFormat } from '../../lib/images/sniff.ts';
import { fixtureNames, readFixture } from '../helpers/fixtures.ts';
import { allNear, halves, isNear, pixelAt, solid } from '../helpers/images.ts';
import { writeBmp } from '../helpers/bmp-writer.ts';

const model = { width: 224, height: 224 };
const tiny = { width: 2, height: 2 };
const limits = { maxPixels: 50_000_000 };
const failsWith = (code: string) => (error: unknown) => error instanceof ImageError && error.code === code;

describe('decodeImage', () => {
  for (const name of fixtureNames) {
    test(`decodes ${name} to 224x224 RGB`, async () => {
      const pixels = await decodeImage(await readFixture(name), model, limits);
      assert.equal(pixels.length, 224 * 224 * 3);
    });
  }

  test('decodes every supported format to the same colours', async () => {
    const image = () => solid(40, 30, [200, 100, 50]);
    const files = {
      jpeg: await image().jpeg({ quality: 95 }).toBuffer(),
      png: await image().png().toBuffer(),
      webp: await image().webp({ lossless: true }).toBuffer(),
      gif: await image().gif().toBuffer(),
      tiff: await image().tiff().toBuffer(),
      avif: await image().avif({ lossless: true }).toBuffer(),
      bmp: writeBmp({
        width: 2,
        height: 2,
        rgb: new Uint8Array([200, 100, 50, 200, 100, 50, 200, 100, 50, 200, 100, 50]),
        bitsPerPixel: 24,
      }),
    };
    for (const [format, bytes] of Object.entries(files)) {
      assert.deepEqual(sniffFormat(bytes), { supported: true, format });
      const pixels = await decodeImage(bytes, tiny, limits);
      assert.ok(allNear(pixels, [200, 100, 50], format === 'gif' ? 12 : 4), `${format}: ${[...pixels.subarray(0, 3)]}`);
    }
  });

  test('resizes the whole image to the target without keeping the aspect ratio', async () => {
    // A wide image, red left and blue right: squeezing keeps both halves; cropping would lose one.
    const pixels = await decodeImage(await halves(400, 100, [255, 0, 0], [0, 0, 255]).png().toBuffer(), tiny, limits);
    // Bilinear filtering blends a little across the middle.
    assert.ok(isNear(pixelAt(pixels, 2, 0, 0), [255, 0, 0], 40), `left ${pixelAt(pixels, 2, 0, 0)}`);
    assert.ok(isNear(pixelAt(pixels, 2, 1, 0), [0, 0, 255], 40), `right ${pixelAt(pixels, 2, 1, 0)}`);
  });

  test('applies the EXIF orientation', async () => {
    // Stored wide with red on the left; orientation 6 displays it turned 90 degrees clockwise, red on top.
    const bytes = await halves(40, 20, [255, 0, 0], [0, 0, 255])
      .jpeg({ quality: 100 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    assert.equal((await sharp(bytes).metadata()).orientation, 6);
    const pixels = await decodeImage(bytes, tiny, limits);
    assert.ok(isNear(pixelAt(pixels, 2, 0, 0), [255, 0, 0], 40), `top-left ${pixelAt(pixels, 2, 0, 0)}`);
    assert.ok(isNear(pixelAt(pixels, 2, 1, 0), [255, 0, 0], 40), `top-right ${pixelAt(pixels, 2, 1, 0)}`);
    assert.ok(isNear(pixelAt(pixels, 2, 0, 1), [0, 0, 255], 40), `bottom-left ${pixelAt(pixels, 2, 0, 1)}`);
  });

  test('drops alpha without flattening: colours under transparent pixels are kept', async () => {
    const transparent = await solid(16, 16, [255, 0, 0], 0).png().toBuffer();
    assert.ok(allNear(await decodeImage(transparent, tiny, limits), [255, 0, 0], 0));
    const translucent = await solid(16, 16, [200, 100, 50], 0.5).webp({ lossless: true }).toBuffer();
    assert.ok(allNear(await decodeImage(translucent, tiny, limits), [200, 100, 50], 0));
  });

  test('converts grayscale to three equal channels', async () => {
    const gray = await solid(16, 16, [90, 90, 90]).toColourspace('b-w').png().toBuffer();
    assert.equal((await sharp(gray).metadata()).channels, 1);
    assert.ok(allNear(await decodeImage(gray, tiny, limits), [90, 90, 90], 0));
  });

  test('converts 16-bit images to 8 bits', async () => {
    const deep = await solid(16, 16, [200, 100, 50]).toColourspace('rgb16').png().toBuffer();
    assert.equal((await sharp(deep).metadata()).depth, 'ushort');
    assert.ok(allNear(await decodeImage(deep, tiny, limits), [200, 100, 50], 1));
  });

  test('converts CMYK to sRGB', async () => {
    const cmyk = await solid(16, 16, [200, 100, 50]).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer();
    assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
    assert.ok(allNear(await decodeImage(cmyk, tiny, limits), [200, 100, 50], 30));
  });

  test('takes the first frame of an animated GIF', async () => {
    const frames = Buffer.concat([Buffer.alloc(8 * 8 * 3, 0), Buffer.alloc(8 * 8 * 3, 255)]);
    const twoPages = await sharp(frames, { raw: { width: 8, height: 16, channels: 3, pageHeight: 8 } as never })
      .gif()
      .toBuffer();
    assert.equal((await sharp(twoPages).metadata()).pages, 2);
    assert.ok(allNear(await decodeImage(twoPages, tiny, limits), [0, 0, 0], 0));
  });

  test('refuses bytes that are not an image with IMAGE_UNRECOGNIZED', async () => {
    await assert.rejects(decodeImage(Buffer.from('hello, world'), tiny, limits), failsWith('IMAGE_UNRECOGNIZED'));
    await assert.rejects(decodeImage(Buffer.alloc(0), tiny, limits), failsWith('IMAGE_UNRECOGNIZED'));
  });

  test('refuses SVG, HEIC, PDF and ICO with IMAGE_UNSUPPORTED_FORMAT naming the format', async () => {
    const heic = Buffer.concat([
      Buffer.from([0, 0, 0, 24]),
      Buffer.from('ftypheic\0\0\0\0mif1heic', 'latin1'),
      Buffer.alloc(64),
    ]);
    const cases: Array<[Buffer, RegExp]> = [
      [Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'), /SVG/],
      [Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'), /SVG/],
      [heic, /HEIF/],
      [Buffer.from('%PDF-1.7\n'), /PDF/],
      [Buffer.from([0, 0, 1, 0, 1, 0, 16, 16]), /ICO/],
    ];
    for (const [bytes, name] of cases) {
      await assert.rejects(
        decodeImage(bytes, tiny, limits),
        (error: unknown) => failsWith('IMAGE_UNSUPPORTED_FORMAT')(error) && name.test((error as Error).message),
      );
    }
  });

  test('refuses truncated files of every format with IMAGE_CORRUPT', async () => {
    const photo = sharp(await readFixture('owl.jpg')).resize(64, 48);
    const files = {
      jpeg: await photo.clone().jpeg().toBuffer(),
      png: await photo.clone().png().toBuffer(),
      webp: await photo.clone().webp().toBuffer(),
      gif: await photo.clone().gif().toBuffer(),
      tiff: await photo.clone().tiff().toBuffer(),
      avif: await photo.clone().avif().toBuffer(),
      bmp: await readFixture('cat.bmp'),
    };
    for (const [format, bytes] of Object.entries(files)) {
      const truncated = bytes.subarray(0, Math.floor(bytes.length / 2));
      await assert.rejects(decodeImage(truncated, tiny, limits), failsWith('IMAGE_CORRUPT'), `truncated ${format}`);
    }
  });

  test('refuses a decompression bomb from its header with IMAGE_TOO_MANY_PIXELS', async () => {
    // 100 megapixels of white compress to a few hundred kilobytes.
    const bomb = await solid(10_000, 10_000, [255, 255, 255]).png({ compressionLevel: 9 }).toBuffer();
    assert.ok(bomb.length < 1_000_000);
    await assert.rejects(decodeImage(bomb, model, limits), failsWith('IMAGE_TOO_MANY_PIXELS'));
  });

  test('applies the pixel limit it is given', async () => {
    const png = await solid(100, 100, [0, 0, 0]).png().toBuffer();
    await assert.rejects(decodeImage(png, tiny, { maxPixels: 9_999 }), failsWith('IMAGE_TOO_MANY_PIXELS'));
    assert.ok(await decodeImage(png, tiny, { maxPixels: 10_000 }));
  });
});

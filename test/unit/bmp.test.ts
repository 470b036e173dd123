import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ImageError } from '../../lib/errors.ts';
import { decodeBmp } from '../../lib/images/bmp.ts';
import { quantize, writeBmp } from '../helpers/bmp-writer.ts';

const width = 5; // odd, so rows carry padding
const height = 3;
const colours = [
  [255, 0, 0],
  [0, 255, 0],
  [0, 0, 255],
  [255, 255, 255],
  [0, 0, 0],
  [200, 120, 40],
];
/** Distinct colours in a pattern that tells left from right and top from bottom. */
function pattern(palette = colours): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) rgb.set(palette[(i * 7 + Math.floor(i / width)) % palette.length]!, i * 3);
  return rgb;
}
const failsWith = (code: string) => (error: unknown) => error instanceof ImageError && error.code === code;

describe('decodeBmp', () => {
  test('reads 24-bit bottom-up files with a BITMAPV5HEADER, like the fixtures', async () => {
    const rgb = pattern();
    const image = await decodeBmp(writeBmp({ width, height, rgb, bitsPerPixel: 24, headerSize: 124 }), 1e6);
    assert.deepEqual({ width: image.width, height: image.height }, { width, height });
    assert.deepEqual(new Uint8Array(image.data), rgb);
  });

  test('reads top-down rows (negative height)', async () => {
    const rgb = pattern();
    assert.deepEqual(
      new Uint8Array((await decodeBmp(writeBmp({ width, height, rgb, bitsPerPixel: 24, topDown: true }), 1e6)).data),
      rgb,
    );
  });

  test('reads the OS/2 core header', async () => {
    const rgb = pattern();
    assert.deepEqual(
      new Uint8Array((await decodeBmp(writeBmp({ width, height, rgb, bitsPerPixel: 24, headerSize: 12 }), 1e6)).data),
      rgb,
    );
    assert.deepEqual(
      new Uint8Array((await decodeBmp(writeBmp({ width, height, rgb, bitsPerPixel: 8, headerSize: 12 }), 1e6)).data),
      rgb,
    );
  });

  for (const bitsPerPixel of [1, 4, 8] as const) {
    test(`reads ${bitsPerPixel}-bit palette images`, async () => {
      const rgb = pattern(bitsPerPixel === 1 ? colours.slice(0, 2) : colours);
      assert.deepEqual(
        new Uint8Array((await decodeBmp(writeBmp({ width, height, rgb, bitsPerPixel }), 1e6)).data),
        rgb,
      );
    });
  }

  test('reads 32-bit BI_RGB (BGRX) images', async () => {
    const rgb = pattern();
    assert.deepEqual(
      new Uint8Array((await decodeBmp(writeBmp({ width, height, rgb, bitsPerPixel: 32 }), 1e6)).data),
      rgb,
    );
  });

  test('reads 32-bit BI_BITFIELDS images with masks in a v4 header and after a 40-byte header', async () => {
    const rgb = pattern();
    const masks: [number, number, number] = [0x0000ff00, 0x00ff0000, 0xff000000];
    for (const headerSize of [40, 108] as const) {
      assert.deepEqual(
        new Uint8Array(
          (await decodeBmp(writeBmp({ width, height, rgb, bitsPerPixel: 32, headerSize, masks }), 1e6)).data,
        ),
        rgb,
      );
    }
  });

  test('reads 16-bit images, 5-5-5 by default and 5-6-5 with bit fields, scaling to 8 bits', async () => {
    const rgb = pattern();
    for (const masks of [undefined, [0xf800, 0x07e0, 0x001f] as [number, number, number]]) {
      const decoded = (await decodeBmp(writeBmp({ width, height, rgb, bitsPerPixel: 16, masks }), 1e6)).data;
      const used = masks ?? [0x7c00, 0x03e0, 0x001f];
      const expected = rgb.map((value, i) => quantize(value, used[i % 3]!));
      assert.deepEqual(new Uint8Array(decoded), expected);
    }
  });

  test('lets the event loop run while it unpacks a large image', async () => {
    const side = 3000;
    const rgb = new Uint8Array(side * side * 3); // black and white stripes, 1 bit per pixel
    for (let i = 0; i < side * side; i += 2) rgb.fill(255, i * 3, i * 3 + 3);
    const file = writeBmp({ width: side, height: side, rgb, bitsPerPixel: 1 });
    let turns = 0;
    const ticker = setInterval(() => turns++, 1);
    const image = await decodeBmp(file, 10e6).finally(() => clearInterval(ticker));
    assert.equal(image.data.length, rgb.length);
    assert.ok(turns > 0, 'no timer ran while decoding');
  });

  test('refuses RLE compression as an unsupported format', async () => {
    const file = writeBmp({ width, height, rgb: pattern(), bitsPerPixel: 8 });
    file.writeUInt32LE(1, 30);
    await assert.rejects(
      decodeBmp(file, 1e6),
      (error: unknown) => failsWith('IMAGE_UNSUPPORTED_FORMAT')(error) && /RLE8/.test((error as Error).message),
    );
  });

  test('refuses a header whose pixel count exceeds the limit, before allocating', async () => {
    const file = writeBmp({ width, height, rgb: pattern(), bitsPerPixel: 24 });
    file.writeInt32LE(100_000, 18);
    file.writeInt32LE(100_000, 22);
    await assert.rejects(decodeBmp(file, 50_000_000), failsWith('IMAGE_TOO_MANY_PIXELS'));
  });

  test('refuses truncated pixel data, a truncated header and nonsense sizes as corrupt', async () => {
    const file = writeBmp({ width, height, rgb: pattern(), bitsPerPixel: 24 });
    await assert.rejects(decodeBmp(file.subarray(0, file.length - 20), 1e6), failsWith('IMAGE_CORRUPT'));
    await assert.rejects(decodeBmp(file.subarray(0, 20), 1e6), failsWith('IMAGE_CORRUPT'));
    const zeroWidth = Buffer.from(file);
    zeroWidth.writeInt32LE(0, 18);
    await assert.rejects(decodeBmp(zeroWidth, 1e6), failsWith('IMAGE_CORRUPT'));
    const oddDepth = Buffer.from(file);
    oddDepth.writeUInt16LE(7, 28);
    await assert.rejects(decodeBmp(oddDepth, 1e6), failsWith('IMAGE_CORRUPT'));
  });
});

import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { isSrgbProfile } from '../../lib/images/icc-profile.ts';
import { readJpegLayout } from '../../lib/images/jpeg-layout.ts';
import { exifOrientation, iccProfile } from '../../lib/images/jpeg-metadata.ts';
import { FIXTURES_DIR, readFixture } from '../helpers/fixtures.ts';

const jpegWith = (icc?: string, orientation?: number) => {
  let image = sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).jpeg();
  if (icc) image = image.withIccProfile(icc);
  if (orientation) image = image.withMetadata({ orientation });
  return image.toBuffer();
};
const profileOf = async (icc: string) => (await sharp(await jpegWith(icc)).metadata()).icc!;

describe('isSrgbProfile', () => {
  test('recognises sRGB profiles by their colorants and curves', async () => {
    assert.equal(isSrgbProfile((await sharp(await readFixture('hot_dog.jpg')).metadata()).icc!), true);
    assert.equal(isSrgbProfile(await profileOf('srgb')), true);
  });

  test('refuses wide-gamut, CMYK and damaged profiles', async () => {
    assert.equal(isSrgbProfile(await profileOf('p3')), false);
    assert.equal(isSrgbProfile(await profileOf(path.join(FIXTURES_DIR, 'icc/compatibleWithAdobeRGB1998.icc'))), false);
    assert.equal(isSrgbProfile(await profileOf('cmyk')), false);
    const srgb = await profileOf('srgb');
    assert.equal(isSrgbProfile(srgb.subarray(0, 200)), false);
    assert.equal(isSrgbProfile(Buffer.alloc(600)), false);
  });

  test('an sRGB name with other primaries is not sRGB', async () => {
    const srgb = Buffer.from(await profileOf('srgb'));
    // Move the red colorant's X (first s15Fixed16 of rXYZ) as a wider gamut would.
    const count = srgb.readUInt32BE(128);
    for (let i = 0; i < count; i++) {
      const at = 132 + 12 * i;
      if (srgb.toString('latin1', at, at + 4) === 'rXYZ') {
        const offset = srgb.readUInt32BE(at + 4);
        srgb.writeInt32BE(Math.round(0.5151 * 65536), offset + 8);
      }
    }
    assert.equal(isSrgbProfile(srgb), false);
  });
});

describe('JPEG metadata from the markers', () => {
  test('reads the size, precision and frame', async () => {
    const layout = readJpegLayout(await readFixture('kite_and_cold.jpg'));
    assert.deepEqual([layout.width, layout.height, layout.precision, layout.frame], [1352, 900, 8, 0xc0]);
  });

  test('reads the EXIF orientation, 1 without one', async () => {
    for (let orientation = 1; orientation <= 8; orientation++) {
      assert.equal(exifOrientation(readJpegLayout(await jpegWith(undefined, orientation))), orientation);
    }
    assert.equal(exifOrientation(readJpegLayout(await jpegWith())), 1);
  });

  test('assembles the ICC profile, and tells none from malformed', async () => {
    const tagged = await jpegWith('p3');
    assert.deepEqual(iccProfile(readJpegLayout(tagged)), (await sharp(tagged).metadata()).icc);
    assert.equal(iccProfile(readJpegLayout(await jpegWith())), 'none');
    const layout = readJpegLayout(tagged);
    const chunk = layout.app.find(({ marker }) => marker === 0xe2)!;
    const damaged = Buffer.from(chunk.payload);
    damaged[13] = 2; // says one of two chunks
    assert.equal(iccProfile({ ...layout, app: [{ marker: 0xe2, payload: damaged }] }), 'malformed');
  });
});

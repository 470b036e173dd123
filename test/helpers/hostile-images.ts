/**
 * The attack images of issue 13, built as the measurements before the fix built them: small files
 * that decode to hundreds of megabytes, or take a decoder's CPU, or reach a decoder the service does
 * not use. Each builder runs once per test process (the large ones take a second or two).
 */
import sharp from 'sharp';
import { flatJpeg, withRepeatedScans } from './jpeg-builder.ts';

const once = <T>(build: () => Promise<T>): (() => Promise<T>) => {
  let built: Promise<T> | undefined;
  return () => (built ??= build());
};

/** A transparent black RGBA canvas, the most compressible image of its size. */
const transparent = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } });

/** A lossless RGBA WebP of 7000x7000 (49 megapixels) in 2 KB: its decode is estimated at 590 MB. */
export const losslessWebp7000 = once(() => transparent(7000, 7000).webp({ lossless: true }).toBuffer());

/** An RGBA PNG of 7071x7071 (50 megapixels, the pixel limit) in 195 KB: 32 make an 8.3 MB body. */
export const rgbaPng7071 = once(() => transparent(7071, 7071).png({ compressionLevel: 9 }).toBuffer());

/** An RGBA AVIF of 7071x7071 (50 megapixels) in 1.5 KB, ~4 s to encode: the decoder holds ~20 bytes a pixel. */
export const rgbaAvif7071 = once(() => transparent(7071, 7071).avif({ effort: 0 }).toBuffer());

/**
 * A 1-bit BMP of `side` x `side`, all black: 6.25 MB at 7071, which the BMP decoder turns into
 * 150 MB of RGB. Written directly: writeBmp walks 50 million pixels in JavaScript.
 */
export function oneBitBmp(side = 7071): Buffer {
  const stride = Math.ceil(side / 32) * 4;
  const dataOffset = 14 + 40 + 2 * 4;
  const file = Buffer.alloc(dataOffset + stride * side);
  file.write('BM', 0, 'latin1');
  file.writeUInt32LE(file.length, 2);
  file.writeUInt32LE(dataOffset, 10);
  file.writeUInt32LE(40, 14);
  file.writeInt32LE(side, 18);
  file.writeInt32LE(side, 22);
  file.writeUInt16LE(1, 26); // planes
  file.writeUInt16LE(1, 28); // bits per pixel
  file.writeUInt32LE(stride * side, 34);
  file.writeUInt32LE(2, 46); // colours in the palette
  file.writeUInt32LE(0xffffff, 58); // palette: black, then white
  return file;
}

/**
 * A progressive grayscale JPEG of 8456x5704 whose AC scans repeat to 1000 scans (263 KB): decoded,
 * it took 10.9 s of CPU; it is now refused from its header (IMAGE_TOO_COMPLEX).
 */
export const scanBombJpeg = once(async () => {
  const progressive = await sharp({ create: { width: 8456, height: 5704, channels: 3, background: '#808080' } })
    .toColourspace('b-w')
    .jpeg({ progressive: true })
    .toBuffer();
  return withRepeatedScans(progressive, 1000);
});

/**
 * An SVG whose first bytes are `<!--ftypavif-->`: it passed the sniffer as AVIF, and libvips rendered
 * its feTurbulence filter over 3000x3000 pixels (43.8 s of CPU for about 250 bytes).
 */
export const disguisedSvg = Buffer.from(
  '<!--ftypavif--><svg xmlns="http://www.w3.org/2000/svg" width="3000" height="3000"><filter id="f">' +
    '<feTurbulence baseFrequency="0.01" numOctaves="10"/></filter>' +
    '<rect width="100%" height="100%" filter="url(#f)"/></svg>',
);

/** A baseline JPEG with 2 colour components, which libvips reads as 2 channels without alpha (was a 500). */
export const twoComponentJpeg = flatJpeg(33, 17, [
  { h: 1, v: 1 },
  { h: 1, v: 1 },
]);

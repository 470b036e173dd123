/**
 * A small BMP decoder, because sharp's prebuilt libvips cannot read BMP. It reads the Windows and
 * OS/2 headers (core, info, v2-v5), 1/4/8-bit palettes, 16/24/32-bit pixels and BI_BITFIELDS masks,
 * bottom-up and top-down rows, and returns packed 8-bit RGB (alpha, like PIL's convert('RGB'), is
 * dropped). RLE and embedded JPEG/PNG are refused as unsupported. The pixel count is checked from
 * the header before anything is allocated, and a file too short for its pixels is corrupt.
 */
import { setImmediate } from 'node:timers/promises';
import { ImageError } from '../errors.ts';

export interface RgbImage {
  width: number;
  height: number;
  /** width * height * 3 bytes, rows top to bottom. */
  data: Buffer;
}

const BI_RGB = 0;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;
const COMPRESSION_NAMES: Record<number, string> = { 1: 'RLE8', 2: 'RLE4', 4: 'JPEG', 5: 'PNG' };

interface Channel {
  shift: number;
  max: number;
}

const YIELD_AFTER_MS = 4;

const corrupt = (why: string) => new ImageError('IMAGE_CORRUPT', `The BMP file is corrupt: ${why}.`);

export async function decodeBmp(file: Buffer, maxPixels: number): Promise<RgbImage> {
  if (file.length < 26 || file.toString('latin1', 0, 2) !== 'BM') throw corrupt('the header is incomplete');
  const dataOffset = file.readUInt32LE(10);
  const headerSize = file.readUInt32LE(14);
  if (file.length < 14 + Math.min(headerSize, 40)) throw corrupt('the header is incomplete');

  const isCore = headerSize === 12;
  if (!isCore && headerSize < 40) throw corrupt(`unknown header size ${headerSize}`);
  const width = isCore ? file.readUInt16LE(18) : file.readInt32LE(18);
  const signedHeight = isCore ? file.readInt16LE(20) : file.readInt32LE(22);
  const bitsPerPixel = isCore ? file.readUInt16LE(24) : file.readUInt16LE(28);
  const compression = isCore ? BI_RGB : file.readUInt32LE(30);
  const height = Math.abs(signedHeight);
  const topDown = signedHeight < 0;

  if (width <= 0 || height === 0) throw corrupt(`invalid size ${width}x${signedHeight}`);
  if (width * height > maxPixels) {
    throw new ImageError(
      'IMAGE_TOO_MANY_PIXELS',
      `The image has ${width * height} pixels, more than the ${maxPixels} allowed.`,
    );
  }
  if (COMPRESSION_NAMES[compression]) {
    throw new ImageError(
      'IMAGE_UNSUPPORTED_FORMAT',
      `BMP files with ${COMPRESSION_NAMES[compression]} compression are not supported.`,
    );
  }
  if (![BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS].includes(compression))
    throw corrupt(`unknown compression ${compression}`);
  if (![1, 4, 8, 16, 24, 32].includes(bitsPerPixel)) throw corrupt(`unsupported bit depth ${bitsPerPixel}`);

  const stride = Math.ceil((bitsPerPixel * width) / 32) * 4;
  const lastRowBytes = Math.ceil((bitsPerPixel * width) / 8);
  if (dataOffset + stride * (height - 1) + lastRowBytes > file.length) throw corrupt('the pixel data is truncated');

  const out = Buffer.allocUnsafe(width * height * 3);
  const decodeRow = rowDecoder(file, out, width, bitsPerPixel, headerSize, isCore, compression, dataOffset);
  // A 1-bit BMP of the largest allowed size takes about half a second to unpack; yielding every few
  // milliseconds keeps health checks and other requests on this event loop answered meanwhile.
  let sliceStart = performance.now();
  for (let y = 0; y < height; y++) {
    decodeRow(dataOffset + stride * (topDown ? y : height - 1 - y), y * width * 3);
    if (performance.now() - sliceStart > YIELD_AFTER_MS) {
      await setImmediate();
      sliceStart = performance.now();
    }
  }
  return { width, height, data: out };
}

type RowDecoder = (fileOffset: number, outOffset: number) => void;

function rowDecoder(
  file: Buffer,
  out: Buffer,
  width: number,
  bitsPerPixel: number,
  headerSize: number,
  isCore: boolean,
  compression: number,
  dataOffset: number,
): RowDecoder {
  if (bitsPerPixel <= 8) {
    const palette = readPalette(file, headerSize, isCore, bitsPerPixel, compression, dataOffset);
    const perByte = 8 / bitsPerPixel;
    const mask = (1 << bitsPerPixel) - 1;
    return (row, o) => {
      for (let x = 0; x < width; x++, o += 3) {
        const byte = file[row + Math.floor(x / perByte)] ?? 0;
        const index = (byte >> (8 - bitsPerPixel * ((x % perByte) + 1))) & mask;
        out[o] = palette[index * 3] ?? 0;
        out[o + 1] = palette[index * 3 + 1] ?? 0;
        out[o + 2] = palette[index * 3 + 2] ?? 0;
      }
    };
  }
  if (bitsPerPixel === 24) {
    return (row, o) => {
      for (let x = 0; x < width; x++, o += 3) {
        const p = row + x * 3;
        out[o] = file[p + 2]!;
        out[o + 1] = file[p + 1]!;
        out[o + 2] = file[p]!;
      }
    };
  }
  const [red, green, blue] = readMasks(file, bitsPerPixel, compression);
  return (row, o) => {
    for (let x = 0; x < width; x++, o += 3) {
      const value = bitsPerPixel === 16 ? file.readUInt16LE(row + x * 2) : file.readUInt32LE(row + x * 4);
      out[o] = scale(value, red);
      out[o + 1] = scale(value, green);
      out[o + 2] = scale(value, blue);
    }
  };
}

/**
 * The palette as packed RGB; entries are BGR (core header) or BGRX (others). Its length is the
 * declared count (or 2^bits), but never more than fits before the pixel data: writers often store
 * only the colours used.
 */
function readPalette(
  file: Buffer,
  headerSize: number,
  isCore: boolean,
  bitsPerPixel: number,
  compression: number,
  dataOffset: number,
): Uint8Array {
  const entrySize = isCore ? 3 : 4;
  const maskBytes = headerSize === 40 && compression === BI_BITFIELDS ? 12 : 0;
  const start = 14 + headerSize + maskBytes;
  const declared = (isCore ? 0 : file.readUInt32LE(46)) || 1 << bitsPerPixel;
  const count = Math.min(
    declared,
    1 << bitsPerPixel,
    Math.floor((Math.min(dataOffset, file.length) - start) / entrySize),
  );
  if (count <= 0) throw corrupt('the palette is missing');
  const palette = new Uint8Array(count * 3);
  for (let i = 0; i < count; i++) {
    const p = start + i * entrySize;
    palette[i * 3] = file[p + 2]!;
    palette[i * 3 + 1] = file[p + 1]!;
    palette[i * 3 + 2] = file[p]!;
  }
  return palette;
}

/** Red, green and blue masks: from the header or after it (BI_BITFIELDS), else the BI_RGB defaults. */
function readMasks(file: Buffer, bitsPerPixel: number, compression: number): [Channel, Channel, Channel] {
  let masks: [number, number, number];
  if (compression === BI_RGB) {
    masks = bitsPerPixel === 16 ? [0x7c00, 0x03e0, 0x001f] : [0xff0000, 0x00ff00, 0x0000ff];
  } else {
    const offset = 14 + 40; // right after a 40-byte header, which is also where v2+ headers keep them
    if (offset + 12 > file.length) throw corrupt('the colour masks are truncated');
    masks = [file.readUInt32LE(offset), file.readUInt32LE(offset + 4), file.readUInt32LE(offset + 8)];
  }
  const channels = masks.map(toChannel) as [Channel, Channel, Channel];
  if (channels.some((channel) => channel.max === 0)) throw corrupt('a colour mask is empty');
  return channels;
}

function toChannel(mask: number): Channel {
  if (mask === 0) return { shift: 0, max: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  return { shift, max: mask >>> shift };
}

function scale(value: number, channel: Channel): number {
  const v = (value >>> channel.shift) & channel.max;
  return channel.max === 255 ? v : Math.round((v * 255) / channel.max);
}

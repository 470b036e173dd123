/**
 * Writes BMP files in the variants the decoder must read (header kinds, bit depths, bit fields,
 * row order), so its tests compare decoded pixels with the pixels that went in.
 */

export interface BmpOptions {
  width: number;
  height: number;
  /** Packed RGB, rows top to bottom. */
  rgb: Uint8Array;
  bitsPerPixel: 1 | 4 | 8 | 16 | 24 | 32;
  headerSize?: 12 | 40 | 108 | 124;
  topDown?: boolean;
  /** Red, green, blue masks: writes BI_BITFIELDS (16 and 32 bits). */
  masks?: [number, number, number];
}

export function writeBmp(options: BmpOptions): Buffer {
  const { width, height, rgb, bitsPerPixel, headerSize = 40, topDown = false, masks } = options;
  const isCore = headerSize === 12;
  const palette = bitsPerPixel <= 8 ? buildPalette(rgb, 1 << bitsPerPixel) : [];
  const paletteBytes = palette.length * (isCore ? 3 : 4);
  const maskBytes = masks && headerSize === 40 ? 12 : 0;
  const stride = Math.ceil((bitsPerPixel * width) / 32) * 4;
  const dataOffset = 14 + headerSize + maskBytes + paletteBytes;
  const file = Buffer.alloc(dataOffset + stride * height);

  file.write('BM', 0, 'latin1');
  file.writeUInt32LE(file.length, 2);
  file.writeUInt32LE(dataOffset, 10);
  file.writeUInt32LE(headerSize, 14);
  if (isCore) {
    file.writeUInt16LE(width, 18);
    file.writeInt16LE(topDown ? -height : height, 20);
    file.writeUInt16LE(1, 22);
    file.writeUInt16LE(bitsPerPixel, 24);
  } else {
    file.writeInt32LE(width, 18);
    file.writeInt32LE(topDown ? -height : height, 22);
    file.writeUInt16LE(1, 26);
    file.writeUInt16LE(bitsPerPixel, 28);
    file.writeUInt32LE(masks ? 3 : 0, 30);
    file.writeUInt32LE(stride * height, 34);
    file.writeUInt32LE(palette.length, 46);
    if (masks) for (const [i, mask] of masks.entries()) file.writeUInt32LE(mask, 54 + i * 4);
  }
  palette.forEach(([r, g, b], i) => {
    const p = 14 + headerSize + maskBytes + i * (isCore ? 3 : 4);
    file[p] = b;
    file[p + 1] = g;
    file[p + 2] = r;
  });

  const defaultMasks: [number, number, number] =
    bitsPerPixel === 16 ? [0x7c00, 0x03e0, 0x001f] : [0xff0000, 0x00ff00, 0x0000ff];
  for (let y = 0; y < height; y++) {
    const row = dataOffset + stride * (topDown ? y : height - 1 - y);
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const [r, g, b] = [rgb[i]!, rgb[i + 1]!, rgb[i + 2]!];
      if (bitsPerPixel <= 8) {
        const index = palette.findIndex(([pr, pg, pb]) => pr === r && pg === g && pb === b);
        const perByte = 8 / bitsPerPixel;
        const shift = 8 - bitsPerPixel * ((x % perByte) + 1);
        file[row + Math.floor(x / perByte)]! |= index << shift;
      } else if (bitsPerPixel === 24) {
        file[row + x * 3] = b;
        file[row + x * 3 + 1] = g;
        file[row + x * 3 + 2] = r;
      } else {
        const value = packed([r, g, b], masks ?? defaultMasks);
        if (bitsPerPixel === 16) file.writeUInt16LE(value, row + x * 2);
        else file.writeUInt32LE(value >>> 0, row + x * 4);
      }
    }
  }
  return file;
}

/** What a channel value becomes after packing into `mask` and scaling back to 8 bits. */
export function quantize(value: number, mask: number): number {
  const { max } = maskInfo(mask);
  const q = Math.round((value * max) / 255);
  return Math.round((q * 255) / max);
}

function packed(rgb: [number, number, number], masks: [number, number, number]): number {
  return rgb.reduce((acc, value, i) => {
    const { shift, max } = maskInfo(masks[i]!);
    return acc | (Math.round((value * max) / 255) << shift);
  }, 0);
}

function maskInfo(mask: number) {
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  return { shift, max: mask >>> shift };
}

function buildPalette(rgb: Uint8Array, size: number): Array<[number, number, number]> {
  const colours = new Map<string, [number, number, number]>();
  for (let i = 0; i < rgb.length; i += 3)
    colours.set(`${rgb[i]},${rgb[i + 1]},${rgb[i + 2]}`, [rgb[i]!, rgb[i + 1]!, rgb[i + 2]!]);
  if (colours.size > size) throw new Error(`${colours.size} colours do not fit a palette of ${size}`);
  return [...colours.values()];
}

/**
 * JPEG files built byte by byte for decoder tests: layouts encoders never write (2 colour
 * components, odd sampling factors) and progressive files with far too many scans.
 */

export interface JpegComponent {
  /** Horizontal and vertical sampling factors, 1 to 4. */
  h: number;
  v: number;
}

const segment = (marker: number, payload: number[]): Buffer =>
  Buffer.from([0xff, marker, (payload.length + 2) >> 8, (payload.length + 2) & 0xff, ...payload]);

/**
 * A baseline JPEG whose every block is flat (DC difference 0, then end-of-block), in one interleaved
 * scan: a valid file for any number of components and sampling factors. Each Huffman table has a
 * single one-bit code, so a block costs two bits.
 */
export function flatJpeg(width: number, height: number, components: JpegComponent[]): Buffer {
  const maxH = Math.max(...components.map((c) => c.h));
  const maxV = Math.max(...components.map((c) => c.v));
  const mcus = Math.ceil(width / (8 * maxH)) * Math.ceil(height / (8 * maxV));
  const blocksPerMcu = components.reduce((sum, c) => sum + c.h * c.v, 0);
  const bits = mcus * blocksPerMcu * 2;
  const data: number[] = [];
  // Every bit 0 (the single code of each table), padded with 1 bits; no 0xFF byte, so no stuffing.
  for (let i = 0; i < Math.ceil(bits / 8); i++)
    data.push(i === Math.ceil(bits / 8) - 1 ? (1 << (8 - (bits % 8 || 8))) - 1 : 0);
  const oneCode = (tableClassAndId: number, symbol: number) => [tableClassAndId, 1, ...Array(15).fill(0), symbol];
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    segment(0xdb, [0, ...Array(64).fill(1)]),
    segment(0xc0, [
      8,
      height >> 8,
      height & 0xff,
      width >> 8,
      width & 0xff,
      components.length,
      ...components.flatMap((c, i) => [i + 1, (c.h << 4) | c.v, 0]),
    ]),
    segment(0xc4, [...oneCode(0x00, 0), ...oneCode(0x10, 0)]),
    segment(0xda, [components.length, ...components.flatMap((_c, i) => [i + 1, 0x00]), 0, 63, 0]),
    Buffer.from(data),
    Buffer.from([0xff, 0xd9]),
  ]);
}

export interface JpegSegment {
  marker: number;
  /** The whole segment: marker, length, payload and, for SOS, its entropy-coded data. */
  bytes: Buffer;
}

/** A well-formed JPEG split into its segments (SOI and EOI excluded). */
export function jpegSegments(jpeg: Buffer): JpegSegment[] {
  const segments: JpegSegment[] = [];
  let p = 2;
  while (p + 1 < jpeg.length && jpeg[p + 1] !== 0xd9) {
    const marker = jpeg[p + 1]!;
    let end = p + 2 + jpeg.readUInt16BE(p + 2);
    if (marker === 0xda) {
      while (end + 1 < jpeg.length) {
        const next = jpeg[end + 1]!;
        if (jpeg[end] === 0xff && next !== 0 && !(next >= 0xd0 && next <= 0xd7)) break;
        end++;
      }
    }
    segments.push({ marker, bytes: jpeg.subarray(p, end) });
    p = end;
  }
  return segments;
}

/** The spectral selection start of a scan segment: 0 for DC scans, above 0 for AC scans. */
const spectralStart = (scan: Buffer): number => scan[5 + 2 * scan[4]!]!;

/**
 * A progressive JPEG with its AC scans repeated until it has `scans` scans in all: the repeats
 * decode without error (libjpeg only warns), each costing a full pass over the coefficients.
 */
export function withRepeatedScans(progressive: Buffer, scans: number): Buffer {
  const segments = jpegSegments(progressive);
  const acScans = segments.filter((s) => s.marker === 0xda && spectralStart(s.bytes) > 0).map((s) => s.bytes);
  if (!acScans.length) throw new Error('the JPEG has no AC scans: is it progressive?');
  const have = segments.filter((s) => s.marker === 0xda).length;
  const extra = Array.from({ length: Math.max(0, scans - have) }, (_, i) => acScans[i % acScans.length]!);
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    ...segments.map((s) => s.bytes),
    ...extra,
    Buffer.from([0xff, 0xd9]),
  ]);
}

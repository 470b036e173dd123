/**
 * Mutation fuzzing of decodeImage: the fixtures, and every supported format made from them, with
 * bits flipped, bytes cut, header fields set to edge values and segments repeated, a few thousand
 * cases from a fixed seed. Every case must end as pixels of the right size or as an ImageError
 * with a documented code: never a plain Error (a 500), a crash or a hang.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { ENTRY_ERRORS, ImageError } from '../../lib/errors.ts';
import { decodeImage } from '../../lib/images/decode.ts';
import { writeBmp } from '../helpers/bmp-writer.ts';
import { FIXTURES_DIR, readFixture } from '../helpers/fixtures.ts';
import { type JpegComponent, flatJpeg } from '../helpers/jpeg-builder.ts';
import { readdir } from 'node:fs/promises';
import { type Random, prng } from '../helpers/prng.ts';

const SEED = 0x13; // issue 13
const CASES = 5000;
/** Stops early past this, on a slow machine; at least MIN_CASES must have run. */
const TIME_CAP_MS = 60_000;
const MIN_CASES = 300;
const SIZE = { width: 32, height: 24 };
/** Small enough that a header edited to the largest size allowed still decodes in a moment. */
const LIMITS = { maxPixels: 2_000_000, timeoutMs: 1000 };

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Values that break size arithmetic: zero, one, sign bits, all ones, powers of two. */
const EDGES = [0, 1, 2, 3, 4, 7, 8, 15, 16, 255, 256, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];

interface Seed {
  name: string;
  bytes: Buffer;
}

type Mutation = (bytes: Buffer, random: Random) => { bytes: Buffer; how: string };

/** Offsets near the start, where the headers are, half the time. */
const offset = (bytes: Buffer, random: Random) =>
  random.next() < 0.5 ? random.int(Math.min(bytes.length, 512)) : random.int(bytes.length);

const MUTATIONS: Record<string, Mutation> = {
  flipBits(bytes, random) {
    const out = Buffer.from(bytes);
    const at: number[] = [];
    for (let i = 1 + random.int(8); i > 0; i--) {
      const p = offset(out, random);
      out[p]! ^= 1 << random.int(8);
      at.push(p);
    }
    return { bytes: out, how: `bits flipped at ${at.join(',')}` };
  },
  truncate(bytes, random) {
    const length = random.next() < 0.3 ? random.int(Math.min(bytes.length, 256)) : random.int(bytes.length);
    return { bytes: bytes.subarray(0, length), how: `cut to ${length} bytes` };
  },
  setField(bytes, random) {
    const out = Buffer.from(bytes);
    const width = random.pick([1, 2, 4] as const);
    const p = random.int(Math.max(1, Math.min(out.length, 256) - width));
    const value = random.pick(EDGES) >>> 0;
    const bigEndian = random.next() < 0.5;
    for (let i = 0; i < width && p + i < out.length; i++) {
      const shift = 8 * (bigEndian ? width - 1 - i : i);
      out[p + i] = Number((BigInt(value) >> BigInt(shift)) & 0xffn);
    }
    const written = BigInt(value) & ((1n << BigInt(8 * width)) - 1n);
    return { bytes: out, how: `${width}-byte field at ${p} set to ${written} (${bigEndian ? 'BE' : 'LE'})` };
  },
  repeatSlice(bytes, random) {
    const start = random.int(bytes.length);
    const length = 1 + random.int(Math.min(256, bytes.length - start));
    const times = 1 + random.int(64);
    const slice = bytes.subarray(start, start + length);
    const out = Buffer.concat([bytes.subarray(0, start), ...Array(times).fill(slice), bytes.subarray(start)]);
    return { bytes: out, how: `${length} bytes at ${start} repeated ${times} times` };
  },
  randomBytes(bytes, random) {
    const out = Buffer.from(bytes);
    const start = offset(out, random);
    const length = 1 + random.int(64);
    for (let i = start; i < Math.min(out.length, start + length); i++) out[i] = random.int(256);
    return { bytes: out, how: `${length} random bytes at ${start}` };
  },
  /** PNG: an IHDR field (size, bit depth, colour type, interlace) changed, with a valid CRC. */
  pngHeader(bytes, random) {
    if (bytes.toString('latin1', 12, 16) !== 'IHDR') return MUTATIONS.setField!(bytes, random);
    const out = Buffer.from(bytes);
    const field = random.pick([
      ['width', 16, 4],
      ['height', 20, 4],
      ['bit depth', 24, 1],
      ['colour type', 25, 1],
      ['interlace', 28, 1],
    ] as const);
    const [name, at, width] = field;
    const value = width === 4 ? random.pick([0, 1, 2, 1000, 1415, 0x7fffffff, 0xffffffff]) : random.pick(EDGES) & 0xff;
    if (width === 4) out.writeUInt32BE(value >>> 0, at);
    else out[at] = value;
    out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
    return { bytes: out, how: `IHDR ${name} set to ${value}` };
  },
  /** JPEG: a frame header field (type, precision, size, components' sampling and tables) changed. */
  jpegFrame(bytes, random) {
    const sof = frameHeaderAt(bytes);
    if (sof < 0) return MUTATIONS.setField!(bytes, random);
    const out = Buffer.from(bytes);
    const components = out[sof + 9]!;
    const choice = random.int(5);
    if (choice === 0) {
      out[sof + 1] = random.pick([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc9, 0xca, 0xcb]);
      return { bytes: out, how: `frame type set to 0x${out[sof + 1]!.toString(16)}` };
    }
    if (choice === 1) {
      out[sof + 4] = random.pick([0, 1, 2, 7, 8, 12, 16, 255]);
      return { bytes: out, how: `precision set to ${out[sof + 4]}` };
    }
    if (choice === 2) {
      const at = sof + random.pick([5, 7]);
      out.writeUInt16BE(random.pick([0, 1, 7, 8, 9, 1000, 1414, 0x7fff, 0xffff]), at);
      return { bytes: out, how: `${at === sof + 5 ? 'height' : 'width'} set to ${out.readUInt16BE(at)}` };
    }
    const component = random.int(Math.max(1, components));
    const at = sof + 10 + 3 * component + (choice === 3 ? 1 : 2);
    if (at < out.length) out[at] = choice === 3 ? (1 + random.int(4)) * 16 + 1 + random.int(4) : random.int(5);
    return {
      bytes: out,
      how: `component ${component} ${choice === 3 ? 'sampling' : 'quantisation table'} set to ${out[at]}`,
    };
  },
  /** BMP: a header field (offset, header size, size, bit depth, compression, colours) set to an edge value. */
  bmpHeader(bytes, random) {
    if (bytes.toString('latin1', 0, 2) !== 'BM') return MUTATIONS.setField!(bytes, random);
    const out = Buffer.from(bytes);
    const [name, at, width] = random.pick([
      ['data offset', 10, 4],
      ['header size', 14, 4],
      ['width', 18, 4],
      ['height', 22, 4],
      ['bits per pixel', 28, 2],
      ['compression', 30, 4],
      ['colours used', 46, 4],
    ] as const);
    const value = random.pick([...EDGES, -1, -1000, 1000, 1414]);
    if (width === 4) out.writeInt32LE(value | 0, at);
    else out.writeUInt16LE(value & 0xffff, at);
    return { bytes: out, how: `BMP ${name} set to ${value}` };
  },
};

async function seeds(): Promise<Seed[]> {
  const names = (await readdir(FIXTURES_DIR)).filter((name) => /\.(jpg|bmp)$/.test(name)).sort();
  const list: Seed[] = [];
  for (const name of names) {
    const original = await readFixture(name);
    list.push({ name, bytes: original });
    const source = name.endsWith('.bmp') ? await bmpToPng(original) : original;
    const small = sharp(source).resize(48, 36, { fit: 'fill' });
    const rgb = await small.clone().raw().toBuffer();
    // Alpha from 0 to 255 across the image, over colours that must survive it.
    const rgba = Buffer.alloc(48 * 36 * 4);
    for (let i = 0; i < 48 * 36; i++) {
      rgb.copy(rgba, i * 4, i * 3, i * 3 + 3);
      rgba[i * 4 + 3] = Math.round(((i % 48) / 47) * 255);
    }
    const withAlpha = sharp(rgba, { raw: { width: 48, height: 36, channels: 4 } });
    const variants: Record<string, () => Promise<Buffer>> = {
      'baseline.jpg': () => small.clone().jpeg({ quality: 80 }).toBuffer(),
      'progressive.jpg': () => small.clone().jpeg({ progressive: true }).toBuffer(),
      'grey-progressive.jpg': () => small.clone().toColourspace('b-w').jpeg({ progressive: true }).toBuffer(),
      'cmyk.jpg': () => small.clone().toColourspace('cmyk').jpeg().toBuffer(),
      'rgb.png': () => small.clone().png().toBuffer(),
      'rgba.png': () => withAlpha.clone().png().toBuffer(),
      'palette.png': () => small.clone().png({ palette: true, colours: 16 }).toBuffer(),
      'interlaced-16bit.png': () => small.clone().toColourspace('rgb16').png({ progressive: true }).toBuffer(),
      'grey-alpha.png': () => withAlpha.clone().toColourspace('b-w').png().toBuffer(),
      'lossy.webp': () => small.clone().webp().toBuffer(),
      'lossless-alpha.webp': () => withAlpha.clone().webp({ lossless: true }).toBuffer(),
      'lossy-alpha.webp': () => withAlpha.clone().webp().toBuffer(),
      'rgb.gif': () => small.clone().gif().toBuffer(),
      'alpha.gif': () => withAlpha.clone().gif().toBuffer(),
      'lzw.tiff': () => small.clone().tiff({ compression: 'lzw' }).toBuffer(),
      'tiled-alpha.tiff': () => withAlpha.clone().tiff({ tile: true, tileWidth: 16, tileHeight: 16 }).toBuffer(),
      'jpeg.tiff': () => small.clone().tiff({ compression: 'jpeg' }).toBuffer(),
      'rgb.avif': () => small.clone().avif({ effort: 0 }).toBuffer(),
      'alpha.avif': () => withAlpha.clone().avif({ effort: 0 }).toBuffer(),
    };
    for (const [variant, make] of Object.entries(variants))
      list.push({ name: `${name}:${variant}`, bytes: await make() });
    for (const bitsPerPixel of [1, 4, 8, 16, 32] as const) {
      list.push({ name: `${name}:${bitsPerPixel}-bit.bmp`, bytes: smallBmp(rgb, 48, 36, bitsPerPixel) });
    }
    list.push({
      name: `${name}:core.bmp`,
      bytes: writeBmp({ width: 48, height: 36, rgb, bitsPerPixel: 24, headerSize: 12 }),
    });
  }
  // Component layouts no encoder writes: 1 to 4 components, odd sampling factors.
  const layouts: JpegComponent[][] = [
    [{ h: 1, v: 1 }],
    [
      { h: 1, v: 1 },
      { h: 1, v: 1 },
    ],
    [
      { h: 2, v: 1 },
      { h: 1, v: 2 },
    ],
    [
      { h: 2, v: 2 },
      { h: 1, v: 1 },
      { h: 1, v: 1 },
    ],
    [
      { h: 3, v: 1 },
      { h: 1, v: 3 },
      { h: 1, v: 1 },
    ],
    [
      { h: 1, v: 1 },
      { h: 1, v: 1 },
      { h: 1, v: 1 },
      { h: 1, v: 1 },
    ],
    [
      { h: 2, v: 2 },
      { h: 1, v: 1 },
      { h: 1, v: 1 },
      { h: 2, v: 2 },
    ],
  ];
  for (const components of layouts) {
    const layout = components.map(({ h, v }) => `${h}x${v}`).join(',');
    list.push({ name: `flat ${layout}.jpg`, bytes: flatJpeg(40, 30, components) });
  }
  return list;
}

/** Where a JPEG's frame header (SOF0 to SOF15) starts, or -1. */
function frameHeaderAt(bytes: Buffer): number {
  for (let p = 2; p + 4 < bytes.length; ) {
    if (bytes[p] !== 0xff) return -1;
    const marker = bytes[p + 1]!;
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) return p;
    if (marker === 0xda || marker === 0xd9) return -1;
    p += 2 + bytes.readUInt16BE(p + 2);
  }
  return -1;
}

/** A fixture BMP as PNG, through the service's own decoder (sharp cannot read BMP). */
async function bmpToPng(bmp: Buffer): Promise<Buffer> {
  const width = bmp.readInt32LE(18);
  const height = Math.abs(bmp.readInt32LE(22));
  const rgb = await decodeImage(bmp, { width, height }, { maxPixels: width * height });
  return sharp(rgb, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

/** The pixels reduced to what fits a palette of the bit depth (2, 16 or 216 colours), written as BMP. */
function smallBmp(rgb: Buffer, width: number, height: number, bitsPerPixel: 1 | 4 | 8 | 16 | 32): Buffer {
  const levels = bitsPerPixel === 1 ? 0 : bitsPerPixel === 4 ? 2 : bitsPerPixel === 8 ? 6 : 256;
  const reduced = new Uint8Array(rgb.length);
  if (bitsPerPixel === 1) {
    for (let i = 0; i < rgb.length; i += 3) {
      const value = rgb[i]! + rgb[i + 1]! + rgb[i + 2]! > 384 ? 255 : 0;
      reduced.fill(value, i, i + 3);
    }
  } else {
    for (let i = 0; i < rgb.length; i++)
      reduced[i] = Math.round((Math.round((rgb[i]! / 255) * (levels - 1)) * 255) / (levels - 1));
  }
  return writeBmp({ width, height, rgb: reduced, bitsPerPixel });
}

describe('decodeImage under mutation fuzzing', () => {
  test(`${CASES} mutated images: pixels or a documented ImageError, never anything else`, {
    timeout: 180_000,
  }, async (t) => {
    const corpus = await seeds();
    const random = prng(SEED);
    const mutations = Object.entries(MUTATIONS);
    const failures: string[] = [];
    const outcomes = new Map<string, number>();
    const started = performance.now();
    let ran = 0;
    for (; ran < CASES && performance.now() - started < TIME_CAP_MS; ran++) {
      const seed = random.pick(corpus);
      const [mutationName, mutate] = random.pick(mutations);
      const { bytes, how } = mutate(seed.bytes, random);
      const label = `case ${ran}: ${seed.name}, ${mutationName}: ${how}`;
      try {
        const pixels = await decodeImage(bytes, SIZE, LIMITS);
        if (pixels.length !== SIZE.width * SIZE.height * 3) failures.push(`${label}: ${pixels.length} bytes of pixels`);
        outcomes.set('decoded', (outcomes.get('decoded') ?? 0) + 1);
      } catch (error) {
        if (error instanceof ImageError && Object.hasOwn(ENTRY_ERRORS, error.code)) {
          outcomes.set(error.code, (outcomes.get(error.code) ?? 0) + 1);
        } else {
          const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          failures.push(`${label}: ${what}`);
        }
      }
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const counts = JSON.stringify(Object.fromEntries(outcomes));
    const summary = `${ran} cases from ${corpus.length} seeds in ${seconds} s: ${counts}`;
    t.diagnostic(summary);
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failures; ${summary}`);
    assert.ok(ran >= MIN_CASES, `only ${summary}`);
    // The mutations must leave some images decodable, and break others: both paths are exercised.
    assert.ok((outcomes.get('decoded') ?? 0) > ran / 20, summary);
    assert.ok((outcomes.get('IMAGE_CORRUPT') ?? 0) > ran / 20, summary);
  });
});

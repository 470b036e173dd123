/**
 * Bytes of an image file -> 8-bit RGB pixels at the model's input size, following the model
 * contract: EXIF orientation applied, alpha discarded (not flattened onto a colour, as PIL's
 * convert('RGB') does), grayscale/CMYK/16-bit converted to 8-bit sRGB, and the whole image resized
 * bilinearly to exactly width x height without keeping the aspect ratio. sharp's failures are
 * translated here, and only here, into ImageErrors: no image, however odd, ends in a plain Error.
 *
 * Hostile images are bounded before they are decoded, from their headers:
 * - pixels: more than `maxPixels` is refused (decompression bombs);
 * - memory: each decode reserves its estimated peak from the process-wide decode budget, and waits
 *   its turn when the budget is spent (see decode-budget.ts); JPEG and WebP shrink on load;
 * - CPU: a JPEG with more than MAX_JPEG_SCANS scans is refused before decoding, and every decode
 *   stops at the decode time limit (IMAGE_TOO_COMPLEX);
 * - decoders: only the supported formats' libvips loaders can run (SVG, PDF, ImageMagick and the
 *   others are blocked for the whole process), and the format libvips reads must be the format the
 *   first bytes named.
 */
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { ImageError } from '../errors.ts';
import { CONFIG_SCHEMA } from '../settings.ts';
import { decodeBmp } from './bmp.ts';
import type { DecodeBudget } from './decode-budget.ts';
import { estimateDecodeBytes, estimateJpegTurboBytes, jpegShrinkOnLoad, webpKind } from './decode-estimate.ts';
import { isSrgbProfile } from './icc-profile.ts';
import { type JpegLayout, MAX_JPEG_SCANS, readJpegLayout } from './jpeg-layout.ts';
import { exifOrientation, iccProfile } from './jpeg-metadata.ts';
import { decodeJpegTurbo } from './jpeg-turbo.ts';
import { type ImageFormat, sniffFormat } from './sniff.ts';

// libvips' operation cache only helps when the same file is processed repeatedly; here every
// request brings new bytes, so it would only hold memory.
sharp.cache(false);

/**
 * The libvips loaders of the supported formats (BMP is decoded by bmp.ts and handed over as raw
 * pixels, which needs no loader). Every other loader (SVG, PDF, ImageMagick, OpenSlide, JPEG XL,
 * JPEG 2000, FITS, CSV, matrix, PPM, Radiance, vips, raw camera files, Ultra HDR...) is blocked for
 * the whole process: whatever the bytes claim, libvips cannot hand them to a decoder we do not use.
 */
export const ALLOWED_LOADERS = [
  'VipsForeignLoadJpeg',
  'VipsForeignLoadPng',
  'VipsForeignLoadWebp',
  'VipsForeignLoadNsgif',
  'VipsForeignLoadTiff',
  'VipsForeignLoadHeif',
] as const;
sharp.block({ operation: ['VipsForeignLoad'] });
sharp.unblock({ operation: [...ALLOWED_LOADERS] });

/** What `metadata().format` says for each sniffed format (AVIF is HEIF with AV1 compression). */
const LIBVIPS_FORMAT: Record<Exclude<ImageFormat, 'bmp'>, string> = {
  jpeg: 'jpeg',
  png: 'png',
  webp: 'webp',
  gif: 'gif',
  tiff: 'tiff',
  avif: 'heif',
};

export interface TargetSize {
  width: number;
  height: number;
}

export interface DecodeLimits {
  maxPixels: number;
  /** The process-wide decode memory budget; without one, decodes are not bounded together. */
  budget?: DecodeBudget | undefined;
  /** Longest one decode may run, in ms; libvips counts whole seconds, so it is rounded up. */
  timeoutMs?: number | undefined;
  /** Ends the wait for the budget (the request was abandoned); a decode running is not stopped. */
  signal?: AbortSignal | undefined;
}

export const DEFAULT_DECODE_TIMEOUT_MS = CONFIG_SCHEMA.DECODE_TIMEOUT_MS.default;

const RESIZE = { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: true } as const;

export async function decodeImage(bytes: Buffer, size: TargetSize, limits: DecodeLimits): Promise<Buffer> {
  const sniffed = sniffFormat(bytes);
  if (!sniffed) throw new ImageError('IMAGE_UNRECOGNIZED');
  if (!sniffed.supported) {
    throw new ImageError(
      'IMAGE_UNSUPPORTED_FORMAT',
      `${sniffed.format} images are not supported (JPEG, PNG, WebP, GIF, TIFF, AVIF and BMP are).`,
    );
  }
  const timeout = {
    seconds: Math.min(3600, Math.max(1, Math.ceil((limits.timeoutMs ?? DEFAULT_DECODE_TIMEOUT_MS) / 1000))),
  };
  const withBudget = <T>(bytes: number, task: () => Promise<T>): Promise<T> =>
    limits.budget ? limits.budget.run(bytes, task, limits.signal) : task();

  if (sniffed.format === 'bmp') {
    // bmp.ts checks the header again, and refuses what is too large before allocating anything.
    const pixels = Math.min(bmpPixels(bytes), limits.maxPixels);
    return withBudget(pixels * 3, async () => {
      const { width, height, data } = await decodeBmp(bytes, limits.maxPixels);
      const raw = sharp(data, { raw: { width, height, channels: 3 } }).timeout(timeout);
      return toRawRgb(raw.resize(size.width, size.height, RESIZE), size);
    });
  }

  const format = sniffed.format;
  const jpeg = format === 'jpeg' ? readJpegLayout(bytes) : undefined;
  if (jpeg && jpeg.scans > MAX_JPEG_SCANS) {
    throw new ImageError(
      'IMAGE_TOO_COMPLEX',
      `The image takes too long to decode: the JPEG has more than ${MAX_JPEG_SCANS} scans.`,
    );
  }

  if (jpeg && suitsJpegTurbo(jpeg, limits.maxPixels)) {
    const shrink = jpegShrinkOnLoad(jpeg.width, jpeg.height, size);
    const pixels = await withBudget(estimateJpegTurboBytes(jpeg, shrink), async () => {
      const image = await decodeJpegTurbo(bytes, shrink);
      if (!image) return undefined;
      const raw = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
      const oriented = orient(raw.timeout(timeout), exifOrientation(jpeg));
      return toRawRgb(oriented.resize(size.width, size.height, RESIZE), size).finally(image.release);
    });
    // Otherwise libvips decodes it, or says what is wrong with it.
    if (pixels) return pixels;
  }

  // limitInputPixels makes libvips refuse from the header too; checking the metadata first gives a
  // clear message and catches formats whose header sharp reads lazily.
  const header = { limitInputPixels: limits.maxPixels, failOn: 'error', sequentialRead: true } as const;
  const metadata = await sharp(bytes, header).metadata().catch(sharpFailure);
  checkDecodable(format, metadata, limits.maxPixels);
  // Colour management only where it changes the pixels: see icc-profile.ts.
  const options = { ...header, ignoreIcc: !metadata.icc || isSrgbProfile(metadata.icc) };
  const input = () => sharp(bytes, options).timeout(timeout).autoOrient();
  const webp = format === 'webp' ? webpKind(bytes) : undefined;
  const peak = estimateDecodeBytes({ format, metadata, size, jpeg, webp });
  return withBudget(peak, async () => {
    if (!metadata.hasAlpha) {
      return toRawRgb(input().resize(size.width, size.height, RESIZE).toColourspace('srgb'), size);
    }
    // sharp resizes images with alpha premultiplied, which darkens (or blacks out) colours under
    // transparent pixels, and it drops alpha (removeAlpha, extractChannel) only after resizing; so
    // the alpha channel is dropped in a first pass, at full size (the budget counts that copy), and
    // the opaque pixels are resized in a second, as PIL's convert('RGB') then resize would.
    const opaque = await input()
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true })
      .catch(sharpFailure);
    const { width, height, channels } = opaque.info;
    if (channels !== 3) throw channelsUnsupported(channels);
    const raw = sharp(opaque.data, { raw: { width, height, channels: 3 } }).timeout(timeout);
    return toRawRgb(raw.resize(size.width, size.height, RESIZE), size);
  });
}

/**
 * Whether libjpeg-turbo should decode this JPEG rather than libvips, judged from its markers alone:
 * an 8-bit Huffman-coded grey or YCbCr file, with no colour profile but sRGB's to apply (no CMYK,
 * no wide gamut). It shrinks on load exactly as libvips would, in half libvips' time. The pixel and
 * scan caps bound the CPU of a decode that, unlike libvips', no timeout can stop.
 */
function suitsJpegTurbo(jpeg: JpegLayout, maxPixels: number): boolean {
  const pixels = jpeg.width * jpeg.height;
  if (!TURBO_FRAMES.has(jpeg.frame) || jpeg.precision !== 8) return false;
  if (jpeg.components.length !== 1 && jpeg.components.length !== 3) return false;
  if (!pixels || pixels > Math.min(maxPixels, JPEG_TURBO_MAX_PIXELS) || jpeg.scans > JPEG_TURBO_MAX_SCANS) return false;
  const icc = iccProfile(jpeg);
  return icc === 'none' || (icc !== 'malformed' && isSrgbProfile(icc));
}

/** Baseline, extended and progressive Huffman frames; arithmetic and lossless ones stay with libvips. */
const TURBO_FRAMES = new Set([0xc0, 0xc1, 0xc2]);
const JPEG_TURBO_MAX_PIXELS = 8_000_000;
/** libjpeg's progressive scripts write about 10 scans; each costs a pass over the coefficients. */
const JPEG_TURBO_MAX_SCANS = 16;

/** EXIF orientation (1 to 8) as sharp's rotate, flip (vertical) and flop (horizontal), for raw pixels. */
function orient(pipeline: Sharp, orientation = 1): Sharp {
  const [angle, flip, flop] = ORIENTATIONS[orientation] ?? [0, false, false];
  let oriented = angle ? pipeline.rotate(angle) : pipeline;
  if (flip) oriented = oriented.flip();
  if (flop) oriented = oriented.flop();
  return oriented;
}

const ORIENTATIONS: Record<number, [angle: number, flip: boolean, flop: boolean]> = {
  2: [0, false, true],
  3: [180, false, false],
  4: [0, true, false],
  5: [270, false, true],
  6: [90, false, false],
  7: [90, false, true],
  8: [270, false, false],
};

/** Refuses, from the header, what must not or cannot be decoded. */
function checkDecodable(format: Exclude<ImageFormat, 'bmp'>, metadata: Metadata, maxPixels: number): void {
  if (metadata.format !== LIBVIPS_FORMAT[format]) {
    throw new ImageError(
      'IMAGE_UNSUPPORTED_FORMAT',
      `The file starts like a ${format.toUpperCase()} image but is not one ` +
        '(JPEG, PNG, WebP, GIF, TIFF, AVIF and BMP are supported).',
    );
  }
  const pixels = (metadata.width ?? 0) * (metadata.height ?? 0);
  if (pixels > maxPixels) {
    throw new ImageError(
      'IMAGE_TOO_MANY_PIXELS',
      `The image has ${pixels} pixels, more than the ${maxPixels} allowed.`,
    );
  }
  if (format === 'avif' && metadata.compression !== 'av1') {
    throw new ImageError('IMAGE_UNSUPPORTED_FORMAT', 'HEIF/HEIC images are not supported (AVIF is).');
  }
  // Two channels are grey and alpha; two without alpha (a JPEG with 2 components) mean nothing known.
  if (metadata.channels === 2 && !metadata.hasAlpha) throw channelsUnsupported(2);
}

const channelsUnsupported = (channels: number) =>
  new ImageError(
    'IMAGE_UNSUPPORTED_FORMAT',
    `Images with ${channels} colour channels are not supported (grayscale, RGB and CMYK, with or without alpha, are).`,
  );

/** width x height from a BMP's header (as bmp.ts reads it), or 0 when unreadable. */
function bmpPixels(bytes: Buffer): number {
  if (bytes.length < 26) return 0;
  const core = bytes.readUInt32LE(14) === 12;
  const width = core ? bytes.readUInt16LE(18) : bytes.readInt32LE(18);
  const height = Math.abs(core ? bytes.readInt16LE(20) : bytes.readInt32LE(22));
  return width > 0 && height > 0 ? width * height : 0;
}

async function toRawRgb(pipeline: Sharp, size: TargetSize): Promise<Buffer> {
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true }).catch(sharpFailure);
  checkRgb(info, size);
  return data;
}

function checkRgb(info: OutputInfo, size: TargetSize): void {
  if (info.channels !== 3) throw channelsUnsupported(info.channels);
  if (info.width !== size.width || info.height !== size.height) {
    // Not an image's fault: sharp did not honour fit: 'fill'.
    throw new Error(`decode produced ${info.width}x${info.height} instead of ${size.width}x${size.height}`);
  }
}

function sharpFailure(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) throw new ImageError('IMAGE_TOO_MANY_PIXELS', undefined, { cause: error });
  if (/^timeout: /m.test(message)) throw new ImageError('IMAGE_TOO_COMPLEX', undefined, { cause: error });
  // A blocked loader is skipped when libvips looks for one; named only if it is called directly.
  if (/operation is blocked/i.test(message))
    throw new ImageError('IMAGE_UNSUPPORTED_FORMAT', undefined, { cause: error });
  // Everything else, "unsupported image format" included: the format was sniffed, so the file is damaged.
  throw new ImageError('IMAGE_CORRUPT', undefined, { cause: error });
}

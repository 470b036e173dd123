/**
 * How much memory one decode takes at its peak, from the image's header alone: what the format's
 * decoder holds whole, plus the full-size RGB copy decode.ts makes to drop alpha. The figures were
 * measured (VmHWM, one decode in a fresh process, sharp 0.35 / libvips 8.18, 3 to 27 megapixels)
 * and rounded up; the decode budget reserves this much before the decode starts.
 */
import type { Metadata } from 'sharp';
import type { TargetSize } from './decode.ts';
import { type JpegLayout, samplesPerPixel } from './jpeg-layout.ts';
import type { ImageFormat } from './sniff.ts';

/** What a WebP file holds: lossy (VP8), lossless (VP8L) or an animation. */
export type WebpKind = 'lossy' | 'lossless' | 'animated';

export interface DecodeEstimateInput {
  format: Exclude<ImageFormat, 'bmp'>;
  metadata: Pick<Metadata, 'width' | 'height' | 'channels' | 'depth' | 'hasAlpha' | 'isProgressive' | 'orientation'>;
  size: TargetSize;
  /** The JPEG's layout, for JPEGs. */
  jpeg?: Pick<JpegLayout, 'scans' | 'progressive' | 'components'> | undefined;
  /** The WebP's kind, for WebPs. */
  webp?: WebpKind | undefined;
}

const BYTES_PER_SAMPLE: Partial<Record<string, number>> = {
  ushort: 2,
  short: 2,
  uint: 4,
  int: 4,
  float: 4,
  double: 8,
};

/** Bytes per pixel of what some decoders hold whole, whatever the image's channels. */
const PER_PIXEL = {
  /** libheif and the AV1 decoder: reference frames, YUV planes, then interleaved RGB(A): 18-20 measured. */
  avif: 20,
  /** libnsgif's RGBA canvas and libvips' frame: 5-8 measured (more for small images). */
  gif: 6,
  /** libwebp's full-size ARGB buffer, and libvips' RGBA frame when there is alpha: 4 and 9 measured. */
  webpLossless: 4,
  webpAlpha: 9,
  /** libvips' line buffers and resize of a streamed image: under 1 measured. */
  streamed: 1,
} as const;

/** The most memory one decode of this image holds, in bytes. */
export function estimateDecodeBytes({ format, metadata, size, jpeg, webp }: DecodeEstimateInput): number {
  const width = metadata.width ?? 0;
  const height = metadata.height ?? 0;
  const pixels = width * height;
  const channels = metadata.channels ?? 3;
  const sampleBytes = BYTES_PER_SAMPLE[metadata.depth ?? 'uchar'] ?? 1;
  const full = pixels * channels * sampleBytes;
  let decoder: number;
  switch (format) {
    case 'jpeg': {
      // libjpeg streams a single-scan JPEG, shrunk on load (1/2, 1/4, 1/8). A multi-scan JPEG
      // (progressive, or one scan per component) keeps every DCT coefficient, 2 bytes per sample,
      // at full size whatever the scaling, until its last scan.
      const shrink = jpegShrinkOnLoad(width, height, size);
      const streamed = (pixels / (shrink * shrink)) * channels * 2;
      const samples = jpeg?.components.length ? samplesPerPixel(jpeg.components) : channels;
      const coefficients = jpeg && (jpeg.progressive || jpeg.scans > 1) ? 2 * samples * pixels : 0;
      decoder = coefficients + streamed;
      break;
    }
    case 'png':
      // libspng decodes an interlaced (Adam7) image whole (1.4x measured); otherwise row by row.
      decoder = metadata.isProgressive ? 1.5 * full : PER_PIXEL.streamed * pixels * sampleBytes;
      break;
    case 'webp':
      // Lossy WebP without alpha is shrunk on load by libwebp; lossless and alpha are decoded whole.
      decoder =
        metadata.hasAlpha || webp === 'animated'
          ? PER_PIXEL.webpAlpha * pixels
          : webp === 'lossy'
            ? (pixels / webpShrink(width, height, size) ** 2) * 4
            : PER_PIXEL.webpLossless * pixels;
      break;
    case 'gif':
      decoder = PER_PIXEL.gif * pixels;
      break;
    case 'tiff':
      // Strips and tiles stream, but a file may hold its image as one strip, decoded whole.
      decoder = full;
      break;
    case 'avif':
      decoder = PER_PIXEL.avif * pixels;
      break;
  }
  // Alpha is dropped at full size: an RGB copy, and before it, for an EXIF orientation that turns or
  // flips the image upside down (3 to 8), libvips' full-size copy of the decoded image to turn.
  const rgbCopy = metadata.hasAlpha ? pixels * 3 : 0;
  const turnedCopy = metadata.hasAlpha && (metadata.orientation ?? 1) >= 3 ? full : 0;
  return Math.ceil(decoder + rgbCopy + turnedCopy);
}

/**
 * libjpeg-turbo's decode (jpeg-turbo.ts): the RGB image as shrunk on load, a multi-scan file's
 * coefficients (full size, whatever the scale) beside it while it decodes, and libvips' resize of
 * the pixels afterwards.
 */
export function estimateJpegTurboBytes(jpeg: JpegLayout, shrink: number): number {
  const pixels = jpeg.width * jpeg.height;
  const shrunk = pixels / shrink ** 2;
  const samples = jpeg.components.length ? samplesPerPixel(jpeg.components) : 3;
  const coefficients = jpeg.progressive || jpeg.scans > 1 ? 2 * samples * pixels : 0;
  return Math.ceil(shrunk * 3 + coefficients + PER_PIXEL.streamed * shrunk);
}

/** The integer shrink libjpeg applies on load for this target, as sharp chooses it (fastShrinkOnLoad). */
export function jpegShrinkOnLoad(width: number, height: number, size: TargetSize): number {
  // The target's sides swap when the EXIF orientation turns the image: take the smaller shrink.
  const shrink = Math.min(width / size.width, height / size.height, width / size.height, height / size.width);
  let factor = shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
  if (factor > 1 && Math.trunc(shrink) === factor) factor /= 2;
  return factor;
}

/** The shrink libwebp applies on load (any factor above 1), the smaller for a turned image. */
function webpShrink(width: number, height: number, size: TargetSize): number {
  return Math.max(1, Math.min(width / size.width, height / size.height, width / size.height, height / size.width));
}

/**
 * Whether a WebP is lossy, lossless or animated, from its RIFF chunks: the first chunk is the image
 * (VP8 or VP8L) for a simple file, VP8X for an extended one, whose image or ANIM chunk follows.
 * Unknown or damaged layouts count as lossless (the larger estimate).
 */
export function webpKind(bytes: Uint8Array): WebpKind {
  const fourcc = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 12, chunks = 0; at + 8 <= bytes.length && chunks < 64; chunks++) {
    const kind = fourcc(at);
    if (kind === 'VP8 ') return 'lossy';
    if (kind === 'VP8L') return 'lossless';
    if (kind === 'ANIM' || kind === 'ANMF') return 'animated';
    at += 8 + view.getUint32(at + 4, true) + (view.getUint32(at + 4, true) % 2);
  }
  return 'lossless';
}

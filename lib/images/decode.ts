/**
 * Bytes of an image file -> 8-bit RGB pixels at the model's input size, following the model
 * contract: EXIF orientation applied, alpha discarded (not flattened onto a colour, as PIL's
 * convert('RGB') does), grayscale/CMYK/16-bit converted to 8-bit sRGB, and the whole image resized
 * bilinearly to exactly width x height without keeping the aspect ratio. The pixel count is checked
 * from the header before decoding (decompression bombs). sharp's failures are translated here, and
 * only here, into ImageErrors.
 */
import sharp, { type OutputInfo, type Sharp } from 'sharp';
import { ImageError } from '../errors.ts';
import { decodeBmp } from './bmp.ts';
import { sniffFormat } from './sniff.ts';

// libvips' operation cache only helps when the same file is processed repeatedly; here every
// request brings new bytes, so it would only hold memory.
sharp.cache(false);

export interface TargetSize {
  width: number;
  height: number;
}

export interface DecodeLimits {
  maxPixels: number;
}

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
  if (sniffed.format === 'bmp') {
    const { width, height, data } = await decodeBmp(bytes, limits.maxPixels);
    return (
      await toRawRgb(sharp(data, { raw: { width, height, channels: 3 } }).resize(size.width, size.height, RESIZE))
    ).data;
  }

  // limitInputPixels makes libvips refuse from the header too; checking the metadata first gives a
  // clear message and catches formats whose header sharp reads lazily.
  const options = { limitInputPixels: limits.maxPixels, failOn: 'error', sequentialRead: true } as const;
  const metadata = await sharp(bytes, options).metadata().catch(sharpFailure);
  const pixels = (metadata.width ?? 0) * (metadata.height ?? 0);
  if (pixels > limits.maxPixels) {
    throw new ImageError(
      'IMAGE_TOO_MANY_PIXELS',
      `The image has ${pixels} pixels, more than the ${limits.maxPixels} allowed.`,
    );
  }
  if (metadata.format === 'heif' && metadata.compression !== 'av1') {
    throw new ImageError('IMAGE_UNSUPPORTED_FORMAT', 'HEIF/HEIC images are not supported (AVIF is).');
  }

  if (!metadata.hasAlpha) {
    return (
      await toRawRgb(sharp(bytes, options).autoOrient().toColourspace('srgb').resize(size.width, size.height, RESIZE))
    ).data;
  }
  // sharp resizes images with alpha premultiplied, which darkens (or blacks out) colours under
  // transparent pixels; dropping the alpha channel first keeps them, as PIL's convert('RGB') does.
  const opaque = await toRawRgb(sharp(bytes, options).autoOrient().removeAlpha().toColourspace('srgb'));
  const { width, height } = opaque.info;
  return (
    await toRawRgb(sharp(opaque.data, { raw: { width, height, channels: 3 } }).resize(size.width, size.height, RESIZE))
  ).data;
}

async function toRawRgb(pipeline: Sharp): Promise<{ data: Buffer; info: OutputInfo }> {
  const result = await pipeline.raw().toBuffer({ resolveWithObject: true }).catch(sharpFailure);
  if (result.info.channels !== 3) throw new Error(`decode produced ${result.info.channels} channels instead of 3`);
  return result;
}

function sharpFailure(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) throw new ImageError('IMAGE_TOO_MANY_PIXELS', undefined, { cause: error });
  throw new ImageError('IMAGE_CORRUPT', undefined, { cause: error });
}

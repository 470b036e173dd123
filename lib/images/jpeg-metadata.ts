/**
 * The two things a JPEG's APP segments say about how to show it, read without libvips: the EXIF
 * orientation (APP1) and the ICC profile (APP2 chunks, in sequence order). Whatever is malformed
 * reads as absent, and the caller then leaves the file to libvips.
 */
import type { JpegLayout } from './jpeg-layout.ts';

const EXIF_HEADER = 'Exif\0\0';
const ICC_HEADER = 'ICC_PROFILE\0';
const ORIENTATION_TAG = 0x0112;

const startsWith = (bytes: Uint8Array, text: string) =>
  bytes.length >= text.length && [...text].every((c, i) => bytes[i] === c.charCodeAt(0));

/** The EXIF orientation (1 to 8) of the first EXIF segment, 1 when there is none. */
export function exifOrientation(layout: JpegLayout): number {
  const exif = layout.app.find(({ marker, payload }) => marker === 0xe1 && startsWith(payload, EXIF_HEADER));
  if (!exif) return 1;
  const tiff = exif.payload.subarray(EXIF_HEADER.length);
  if (tiff.length < 8) return 1;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const little = tiff[0] === 0x49 && tiff[1] === 0x49;
  if (!little && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return 1;
  const ifd = view.getUint32(4, little);
  if (ifd + 2 > tiff.length) return 1;
  const entries = view.getUint16(ifd, little);
  for (let i = 0; i < entries; i++) {
    const at = ifd + 2 + 12 * i;
    if (at + 12 > tiff.length) return 1;
    if (view.getUint16(at, little) !== ORIENTATION_TAG) continue;
    const value = view.getUint16(at + 8, little);
    return value >= 1 && value <= 8 ? value : 1;
  }
  return 1;
}

/**
 * The ICC profile assembled from its APP2 chunks: 'none' without any, 'malformed' when chunks are
 * missing, repeated or out of count.
 */
export function iccProfile(layout: JpegLayout): Buffer | 'none' | 'malformed' {
  const chunks = layout.app
    .filter(({ marker, payload }) => marker === 0xe2 && startsWith(payload, ICC_HEADER))
    .map(({ payload }) => ({ sequence: payload[12] ?? 0, count: payload[13] ?? 0, data: payload.subarray(14) }));
  if (!chunks.length) return 'none';
  chunks.sort((a, b) => a.sequence - b.sequence);
  if (chunks.some((chunk, i) => chunk.sequence !== i + 1 || chunk.count !== chunks.length)) return 'malformed';
  return Buffer.concat(chunks.map((chunk) => chunk.data));
}

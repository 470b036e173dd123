/**
 * Tells an image's format from its first bytes, before any decoder sees it. Only the formats in
 * SUPPORTED_FORMATS are decoded; other well-known formats are named so the error can say which
 * (SVG in particular is refused: rendering untrusted vector graphics is not this service's job).
 */

export const SUPPORTED_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'bmp'] as const;
export type ImageFormat = (typeof SUPPORTED_FORMATS)[number];

export type Sniffed = { supported: true; format: ImageFormat } | { supported: false; format: string } | undefined;

/** A ftyp box lists a few brands: 1 KiB would hold 250. */
const MAX_FTYP_BOX_SIZE = 1024;
/** A comment cannot run past its first `-->`, so matching takes linear time whatever the bytes. */
const SVG_START = /^\s*(?:<!--(?:(?!-->)[\s\S])*-->\s*)*(?:<\?xml|<svg|<!DOCTYPE svg)/i;

const ascii = (bytes: Uint8Array, start: number, end: number): string =>
  String.fromCharCode(...bytes.subarray(start, Math.min(end, bytes.length)));

export function sniffFormat(bytes: Uint8Array): Sniffed {
  const supported = (format: ImageFormat): Sniffed => ({ supported: true, format });
  const unsupported = (format: string): Sniffed => ({ supported: false, format });
  const head4 = ascii(bytes, 0, 4);

  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return supported('jpeg');
  if (head4 === '\x89PNG') return supported('png');
  if (head4 === 'GIF8') return supported('gif');
  if (head4 === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return supported('webp');
  if (head4 === 'II*\0' || head4 === 'MM\0*' || head4 === 'II+\0' || head4 === 'MM\0+') return supported('tiff');
  if (ascii(bytes, 0, 2) === 'BM' && bytes.length >= 26) return supported('bmp');
  if (ascii(bytes, 4, 8) === 'ftyp') {
    // An ISO BMFF file (AVIF, HEIC) opens with its ftyp box: size, 'ftyp', major brand, minor version,
    // then compatible brands, 4 bytes each. A size that cannot be a ftyp box's means the bytes only
    // look like one (an SVG opening with `<!--ftypavif-->`, say): not an ISO BMFF file.
    const boxSize =
      (((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0)) >>> 0;
    if (boxSize < 16 || boxSize > MAX_FTYP_BOX_SIZE || boxSize % 4 !== 0) return sniffText(bytes);
    const brands = [ascii(bytes, 8, 12)];
    const end = Math.min(bytes.length, boxSize);
    for (let offset = 16; offset + 4 <= end; offset += 4) brands.push(ascii(bytes, offset, offset + 4));
    if (brands.includes('avif') || brands.includes('avis')) return supported('avif');
    if (brands.some((brand) => ['heic', 'heix', 'hevc', 'hevx', 'mif1', 'msf1'].includes(brand)))
      return unsupported('HEIF/HEIC');
    return undefined;
  }
  if (head4 === '%PDF') return unsupported('PDF');
  if (head4 === '8BPS') return unsupported('PSD');
  if (bytes[0] === 0 && bytes[1] === 0 && (bytes[2] === 1 || bytes[2] === 2) && bytes[3] === 0)
    return unsupported('ICO');
  if (
    ascii(bytes, 4, 8) === 'jP  ' ||
    (bytes[0] === 0xff && bytes[1] === 0x4f && bytes[2] === 0xff && bytes[3] === 0x51)
  )
    return unsupported('JPEG 2000');
  if ((bytes[0] === 0xff && bytes[1] === 0x0a) || ascii(bytes, 4, 8) === 'JXL ') return unsupported('JPEG XL');
  return sniffText(bytes);
}

/** SVG, with or without an XML declaration, doctype or comments first; else unrecognised. */
function sniffText(bytes: Uint8Array): Sniffed {
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  if (SVG_START.test(ascii(bytes, start, start + 1024))) return { supported: false, format: 'SVG' };
  return undefined;
}

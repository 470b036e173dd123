/**
 * Tells an image's format from its first bytes, before any decoder sees it. Only the formats in
 * SUPPORTED_FORMATS are decoded; other well-known formats are named so the error can say which
 * (SVG in particular is refused: rendering untrusted vector graphics is not this service's job).
 */

export const SUPPORTED_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'bmp'] as const;
export type ImageFormat = (typeof SUPPORTED_FORMATS)[number];

export type Sniffed = { supported: true; format: ImageFormat } | { supported: false; format: string } | undefined;

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
    const boxSize = Math.min(
      bytes.length,
      (((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0)) >>> 0,
    );
    const brands = [ascii(bytes, 8, 12)];
    for (let offset = 16; offset + 4 <= boxSize; offset += 4) brands.push(ascii(bytes, offset, offset + 4));
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
  if (/^\s*(<\?xml|<svg|<!DOCTYPE svg)/i.test(ascii(bytes, bytes[0] === 0xef ? 3 : 0, 256))) return unsupported('SVG');
  return undefined;
}

/**
 * Reads a JPEG's structure from its markers, without decoding: the frame (size, progressive or not,
 * components and their sampling factors) and how many scans follow. libjpeg decodes every scan of a
 * multi-scan file over the whole coefficient buffer, so a small file can repeat one scan thousands
 * of times and keep a core busy for minutes; counting the scans first lets the decoder refuse such a
 * file at once, as libjpeg-turbo's `djpeg -maxscans` does.
 *
 * The walk follows libjpeg's own reading: marker segments are skipped by their length, bytes that
 * are not a marker are skipped up to the next 0xFF, and after a scan header the entropy-coded data
 * runs to the first 0xFF followed by a byte that is not 0x00 (a stuffed 0xFF), 0xFF (fill) or a
 * restart marker (0xD0 to 0xD7). So every scan libjpeg would decode is counted.
 */

/** More scans than any encoder writes (libjpeg's progressive scripts have about 10). */
export const MAX_JPEG_SCANS = 100;

export interface JpegComponent {
  h: number;
  v: number;
}

export interface JpegLayout {
  /** Scans before EOI or the end of the bytes; counting stops at `maxScans + 1`. */
  scans: number;
  /** A progressive frame (SOF2, SOF6, SOF10, SOF14). */
  progressive: boolean;
  /** The frame's marker (0xC0 to 0xCF), 0 when no frame header was found. */
  frame: number;
  /** The frame's components (sampling factors); empty when no frame header was found. */
  components: JpegComponent[];
  /** The frame's size and bits per sample; 0 when no frame header was found. */
  width: number;
  height: number;
  precision: number;
  /** APP1 and APP2 segments before the frame (EXIF, ICC profile chunks), as views of the bytes. */
  app: Array<{ marker: number; payload: Uint8Array }>;
}

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const TEM = 0x01;
const APP1 = 0xe1;
const APP2 = 0xe2;
const isRestart = (marker: number) => marker >= 0xd0 && marker <= 0xd7;
/** SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC). */
const isFrame = (marker: number) =>
  marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
const PROGRESSIVE_FRAMES = new Set([0xc2, 0xc6, 0xca, 0xce]);

/** The layout of a JPEG (bytes starting with SOI), counting at most `maxScans + 1` scans. */
export function readJpegLayout(bytes: Uint8Array, maxScans = MAX_JPEG_SCANS): JpegLayout {
  const layout: JpegLayout = {
    scans: 0,
    progressive: false,
    frame: 0,
    components: [],
    width: 0,
    height: 0,
    precision: 0,
    app: [],
  };
  if (bytes[0] !== 0xff || bytes[1] !== SOI) return layout;
  let p = 2;
  while (p < bytes.length) {
    // next_marker: skip anything up to an 0xFF, then any fill 0xFFs.
    p = bytes.indexOf(0xff, p);
    if (p < 0) break;
    while (bytes[p] === 0xff) p++;
    if (p >= bytes.length) break;
    const marker = bytes[p++]!;
    if (marker === 0x00 || marker === SOI || marker === TEM || isRestart(marker)) continue;
    if (marker === EOI) break;
    if (p + 2 > bytes.length) break;
    const length = (bytes[p]! << 8) | bytes[p + 1]!;
    if (length < 2) break; // libjpeg refuses a segment this short
    const payload = p + 2;
    const end = p + length;
    if ((marker === APP1 || marker === APP2) && !layout.components.length && end <= bytes.length) {
      layout.app.push({ marker, payload: bytes.subarray(payload, end) });
    }
    if (isFrame(marker) && !layout.components.length) {
      layout.progressive = PROGRESSIVE_FRAMES.has(marker);
      layout.frame = marker;
      layout.precision = bytes[payload] ?? 0;
      layout.height = ((bytes[payload + 1] ?? 0) << 8) | (bytes[payload + 2] ?? 0);
      layout.width = ((bytes[payload + 3] ?? 0) << 8) | (bytes[payload + 4] ?? 0);
      const count = bytes[payload + 5] ?? 0;
      for (let i = 0; i < count && payload + 8 + 3 * i <= end; i++) {
        const sampling = bytes[payload + 7 + 3 * i] ?? 0;
        layout.components.push({ h: sampling >> 4, v: sampling & 0x0f });
      }
    }
    p = end;
    if (marker !== SOS) continue;
    layout.scans++;
    if (layout.scans > maxScans) break;
    p = endOfEntropyCodedData(bytes, p);
  }
  return layout;
}

/** Where the entropy-coded data starting at `p` ends: at the 0xFF of the next marker, or the end. */
function endOfEntropyCodedData(bytes: Uint8Array, p: number): number {
  for (;;) {
    p = bytes.indexOf(0xff, p);
    if (p < 0) return bytes.length;
    let q = p + 1;
    while (bytes[q] === 0xff) q++;
    if (q >= bytes.length) return bytes.length;
    const next = bytes[q]!;
    if (next !== 0x00 && !isRestart(next)) return q - 1;
    p = q + 1;
  }
}

/** Samples per pixel the coefficient buffer holds: 1 for grayscale, 1.5 for YCbCr 4:2:0, 3 for 4:4:4. */
export function samplesPerPixel(components: JpegComponent[]): number {
  const maxH = Math.max(1, ...components.map((c) => c.h));
  const maxV = Math.max(1, ...components.map((c) => c.v));
  return components.reduce((sum, c) => sum + (c.h * c.v) / (maxH * maxV), 0);
}

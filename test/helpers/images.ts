/** Small images made with sharp for decoder tests: solid colours, halves, alpha, odd formats. */
import sharp from 'sharp';

export type Rgb = [number, number, number];

export function solid(width: number, height: number, [r, g, b]: Rgb, alpha = 1) {
  return sharp({ create: { width, height, channels: alpha === 1 ? 3 : 4, background: { r, g, b, alpha } } });
}

/** Left half `left`, right half `right`, as raw RGB wrapped in sharp. */
export function halves(width: number, height: number, left: Rgb, right: Rgb) {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.set(x < width / 2 ? left : right, (y * width + x) * 3);
  }
  return sharp(raw, { raw: { width, height, channels: 3 } });
}

/** Every channel of `pixel` is within `tolerance` of `colour`. */
export const isNear = (pixel: Rgb, colour: Rgb, tolerance: number): boolean =>
  pixel.every((value, i) => Math.abs(value - colour[i]!) <= tolerance);

/** Every pixel of a packed RGB buffer is within `tolerance` of `colour`. */
export function allNear(pixels: Uint8Array, colour: Rgb, tolerance: number): boolean {
  for (let i = 0; i < pixels.length; i += 3) {
    if (!isNear([pixels[i]!, pixels[i + 1]!, pixels[i + 2]!], colour, tolerance)) return false;
  }
  return true;
}

export const pixelAt = (pixels: Uint8Array, width: number, x: number, y: number): Rgb => {
  const i = (y * width + x) * 3;
  return [pixels[i]!, pixels[i + 1]!, pixels[i + 2]!];
};

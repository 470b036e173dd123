/**
 * Whether an embedded ICC profile describes sRGB, read from the profile itself: an RGB profile whose
 * colorants (rXYZ, gXYZ, bXYZ, D50-adapted in ICC v2 and v4 alike) are sRGB's and whose tone curves
 * follow sRGB's. Names are not trusted: "sRGB IEC61966-2.1", "sRGB built-in" and a camera's own
 * copy all qualify by their numbers, and a profile named sRGB with other primaries does not.
 *
 * Why it matters: converting an sRGB-tagged image to sRGB changes nothing the model can see (pixels
 * move by less than 1 level) but costs libvips 5 to 20 ms of colour management per image, more than
 * the decode itself. A wide-gamut profile (Display P3, as phones write, or Adobe RGB) does change
 * the pixels, by 2 to 8 levels on average, and the predictions with them: those are converted.
 */

/** sRGB's primaries adapted to D50, as every sRGB profile stores them (IEC 61966-2-1, Bradford). */
const SRGB_COLORANTS = {
  rXYZ: [0.4361, 0.2225, 0.0139],
  gXYZ: [0.3851, 0.7169, 0.0971],
  bXYZ: [0.1431, 0.0606, 0.7141],
} as const;
/** s15Fixed16 rounding and the small differences between published sRGB profiles stay well inside. */
const COLORANT_TOLERANCE = 0.003;
/** On the 0..1 scale: 0.01 is under 3 levels of 255, where Display P3 and Adobe RGB differ by far more. */
const CURVE_TOLERANCE = 0.01;
const CURVE_PROBES = [0.05, 0.2, 0.5, 0.8];

const srgbCurve = (x: number) => (x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4);

export function isSrgbProfile(profile: Uint8Array): boolean {
  try {
    const view = new DataView(profile.buffer, profile.byteOffset, profile.byteLength);
    if (profile.length < 132 || ascii(profile, 16) !== 'RGB ') return false;
    const tags = readTagTable(view);
    for (const [tag, expected] of Object.entries(SRGB_COLORANTS)) {
      const xyz = readXyz(view, tags.get(tag));
      if (!xyz || xyz.some((value, i) => Math.abs(value - expected[i]!) > COLORANT_TOLERANCE)) return false;
    }
    for (const tag of ['rTRC', 'gTRC', 'bTRC']) {
      const curve = readCurve(view, tags.get(tag));
      if (!curve || CURVE_PROBES.some((x) => Math.abs(curve(x) - srgbCurve(x)) > CURVE_TOLERANCE)) return false;
    }
    return true;
  } catch {
    // Offsets that point outside the profile: not a profile we can vouch for.
    return false;
  }
}

interface TagEntry {
  offset: number;
  size: number;
}

function ascii(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + 4));
}

function readTagTable(view: DataView): Map<string, TagEntry> {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const count = Math.min(view.getUint32(128), 256);
  const tags = new Map<string, TagEntry>();
  for (let i = 0; i < count; i++) {
    const at = 132 + 12 * i;
    tags.set(ascii(bytes, at), { offset: view.getUint32(at + 4), size: view.getUint32(at + 8) });
  }
  return tags;
}

const s15Fixed16 = (view: DataView, at: number) => view.getInt32(at) / 65536;

function readXyz(view: DataView, entry: TagEntry | undefined): number[] | undefined {
  if (!entry || entry.size < 20 || tagType(view, entry) !== 'XYZ ') return undefined;
  return [0, 1, 2].map((i) => s15Fixed16(view, entry.offset + 8 + 4 * i));
}

function tagType(view: DataView, entry: TagEntry): string {
  return String.fromCharCode(...[0, 1, 2, 3].map((i) => view.getUint8(entry.offset + i)));
}

/** A tone curve as a function on 0..1: a table ('curv'), a gamma ('curv' of one entry) or 'para'. */
function readCurve(view: DataView, entry: TagEntry | undefined): ((x: number) => number) | undefined {
  if (!entry) return undefined;
  const type = tagType(view, entry);
  if (type === 'curv') {
    const count = view.getUint32(entry.offset + 8);
    if (count === 0) return (x) => x;
    if (count === 1) {
      const gamma = view.getUint16(entry.offset + 12) / 256;
      return (x) => x ** gamma;
    }
    // Read only the entries the probes fall between (a table has up to 4,096 of them).
    const entry16 = (i: number) => view.getUint16(entry.offset + 12 + 2 * i) / 65535;
    return (x) => {
      const at = x * (count - 1);
      const low = Math.floor(at);
      const high = Math.min(low + 1, count - 1);
      return entry16(low) + (entry16(high) - entry16(low)) * (at - low);
    };
  }
  if (type === 'para') return parametricCurve(view, entry);
  return undefined;
}

/** ICC's parametric curves, functions 0 to 4 (ICC.1:2010, 10.18). */
function parametricCurve(view: DataView, entry: TagEntry): ((x: number) => number) | undefined {
  const kind = view.getUint16(entry.offset + 8);
  const counts = [1, 3, 4, 5, 7];
  if (kind > 4) return undefined;
  const [g = 1, a = 1, b = 0, c = 0, d = 0, e = 0, f = 0] = Array.from({ length: counts[kind]! }, (_, i) =>
    s15Fixed16(view, entry.offset + 12 + 4 * i),
  );
  const power = (x: number) => (x > 0 ? x ** g : 0);
  switch (kind) {
    case 0:
      return (x) => power(x);
    case 1:
      return (x) => (x >= -b / a ? power(a * x + b) : 0);
    case 2:
      return (x) => (x >= -b / a ? power(a * x + b) + c : c);
    case 3:
      return (x) => (x >= d ? power(a * x + b) : c * x);
    default:
      return (x) => (x >= d ? power(a * x + b) + e : c * x + f);
  }
}

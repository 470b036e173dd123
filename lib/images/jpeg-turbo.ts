/**
 * JPEG decoding with libjpeg-turbo itself, for the JPEGs decode.ts gives it (suitsJpegTurbo).
 *
 * Why not libvips: its JPEG loader (sharp's prebuilt, mozjpeg inside) takes about twice
 * libjpeg-turbo's time on the same file, grey, 4:2:0 or 4:4:4 alike; the codec is not the
 * difference, libvips' pipeline around it is (see README, Decoding).
 * Why not @julusian/jpeg-turbo's own binding: it always decodes with the fast integer IDCT, which
 * moves pixels by about one level on average from what libjpeg's default (and PIL, and libvips)
 * give, and moved the seashore fixture's top score by 0.05. So we use the package only for the
 * libturbojpeg.so it ships for Linux (3.1, SIMD), and call TurboJPEG's C API through koffi with
 * the accurate IDCT: the pixels are then exactly PIL's and libvips'.
 *
 * The decode runs on a koffi worker (libuv's pool), never on the event loop. Where the library is
 * missing (macOS, Windows, an unknown architecture), every JPEG goes to libvips as before.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createBufferPool } from '../buffer-pool.ts';

export interface RgbImage {
  data: Buffer;
  width: number;
  height: number;
  /** Gives the pixels' memory back for the next decode: call once done with `data`. */
  release(): void;
}

/**
 * Pixel buffers of small images are reused: a fresh one costs its page faults on first touch, about
 * 0.4 ms for a 512x384 photo, a sixth of its decode. Up to 16 MB waits for the next decodes.
 */
const acquire = createBufferPool({ keptBytes: 16 * 2 ** 20, maxBufferBytes: 4 * 2 ** 20 });

type Handle = unknown;
type Done = (error: unknown, result: number) => void;
/** TurboJPEG's C functions, as koffi binds them (TypedArrays for the `int *` outputs). */
interface TurboJpeg {
  init(): Handle;
  header(handle: Handle, jpeg: Buffer, size: number, ...out: Int32Array[]): number;
  decompress(handle: Handle, jpeg: Buffer, size: number, out: Buffer, ...rest: [...number[], Done]): void;
  destroy(handle: Handle): void;
}

/** TurboJPEG's TJPF_RGB, and flags 0: the accurate IDCT and smooth chroma upsampling, libjpeg's defaults. */
const TJPF_RGB = 0;
const DEFAULT_FLAGS = 0;

let library: TurboJpeg | null | undefined;

/**
 * RGB pixels, shrunk on load by `shrink` (1, 2, 4 or 8: libjpeg scales in the IDCT, as libvips'
 * shrink-on-load does), or undefined when libjpeg-turbo is missing, refuses the file or warns about it.
 */
export async function decodeJpegTurbo(bytes: Buffer, shrink = 1): Promise<RgbImage | undefined> {
  const turbo = loadTurboJpeg();
  if (!turbo) return undefined;
  const handle = turbo.init();
  if (!handle) return undefined;
  const width = new Int32Array(1);
  const height = new Int32Array(1);
  const subsampling = new Int32Array(1);
  const colorspace = new Int32Array(1);
  let readable: boolean;
  try {
    readable = turbo.header(handle, bytes, bytes.length, width, height, subsampling, colorspace) === 0;
  } catch {
    readable = false;
  }
  if (!readable) {
    turbo.destroy(handle);
    return undefined;
  }
  // TurboJPEG picks the largest scale whose size fits the one asked: exactly 1/shrink, rounded up.
  const [w, h] = [Math.ceil((width[0] ?? 0) / shrink), Math.ceil((height[0] ?? 0) / shrink)];
  const { data, release } = acquire(w * h * 3);
  return new Promise((resolve) => {
    turbo.decompress(handle, bytes, bytes.length, data, w, 0, h, TJPF_RGB, DEFAULT_FLAGS, (error, result) => {
      turbo.destroy(handle);
      // A warning (a truncated or damaged file) also returns -1: libvips then decodes it, or names
      // what is wrong with it in the API's terms.
      if (!error && result === 0) return resolve({ data, width: w, height: h, release });
      release();
      resolve(undefined);
    });
  });
}

/** Whether JPEGs can be decoded by libjpeg-turbo on this machine (the decode benchmark and tests say so). */
export function jpegTurboAvailable(): boolean {
  return loadTurboJpeg() !== null;
}

function loadTurboJpeg(): TurboJpeg | null {
  if (library !== undefined) return library;
  library = null;
  try {
    const require = createRequire(import.meta.url);
    const koffi = require('koffi') as typeof import('koffi');
    let lib: ReturnType<typeof koffi.load> | undefined;
    for (const file of libturbojpegPaths(path.dirname(require.resolve('@julusian/jpeg-turbo/package.json')))) {
      try {
        lib = koffi.load(file);
        break;
      } catch {
        // The other libc's build: try the next.
      }
    }
    if (!lib) return library;
    const bind = <T>(signature: string) => lib.func(signature) as unknown as T;
    library = {
      init: bind('void *tjInitDecompress()'),
      header: bind(
        'int tjDecompressHeader3(void *, const uint8_t *, unsigned long, _Out_ int *, _Out_ int *, ' +
          '_Out_ int *, _Out_ int *)',
      ),
      decompress: lib.func(
        'int tjDecompress2(void *, const uint8_t *, unsigned long, _Out_ uint8_t *, int, int, int, int, int)',
      ).async as unknown as TurboJpeg['decompress'],
      destroy: bind('int tjDestroy(void *)'),
    };
  } catch {
    library = null;
  }
  return library;
}

/**
 * The package's prebuilt libturbojpeg for this platform (Linux on x64, arm64 and arm): the glibc
 * build, else the musl one. Which one loads is left to the dynamic loader, rather than asking
 * process.report, which blocks the event loop for about 25 ms.
 */
function libturbojpegPaths(packageDir: string): string[] {
  if (process.platform !== 'linux') return [];
  return ['', '-musl']
    .map((libc) => path.join(packageDir, 'prebuilds', `jpeg-turbo-linux-${process.arch}${libc}`, 'libturbojpeg.so.0'))
    .filter((file) => existsSync(file));
}

/**
 * Images built to take a decoder's memory or CPU, or to reach a decoder the service does not use
 * (issue 13): each is refused quickly with a documented code, or decoded within bounds.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { loadConfig } from '../../lib/config.ts';
import { ENTRY_ERRORS, ImageError, ServiceError } from '../../lib/errors.ts';
import { decodeImage } from '../../lib/images/decode.ts';
import {
  AUTO_DECODE_MEMORY_MAX_BYTES,
  AUTO_DECODE_MEMORY_MIN_BYTES,
  createDecodeBudget,
  resolveDecodeMemoryBytes,
  usableMemoryBytes,
} from '../../lib/images/decode-budget.ts';
import { estimateDecodeBytes, webpKind } from '../../lib/images/decode-estimate.ts';
import { MAX_JPEG_SCANS, readJpegLayout } from '../../lib/images/jpeg-layout.ts';
import { sniffFormat } from '../../lib/images/sniff.ts';
import { readFixture } from '../helpers/fixtures.ts';
import { allNear, solid } from '../helpers/images.ts';
import { flatJpeg, withRepeatedScans } from '../helpers/jpeg-builder.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const model = { width: 224, height: 224 };
const limits = { maxPixels: 50_000_000 };
const failsWith = (code: string) => (error: unknown) => {
  assert.ok(error instanceof ImageError, `expected an ImageError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  return true;
};
const PROBE = fileURLToPath(new URL('../helpers/decode-memory-probe.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `task` and returns how long it took, in ms. */
async function timed(task: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await task();
  return performance.now() - started;
}

describe('hostile images', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'decode-hostile-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  describe('memory', () => {
    test('8 lossless RGBA WebPs of 7000x7000 (2 KB each) at once stay within the decode budget', {
      timeout: 120_000,
    }, async (t) => {
      // Unbounded, each holds libwebp's ARGB buffer and a full-size RGB copy: 8 at once peaked at
      // 2.3 GB (32 at 5.3 GB) before the budget. Through a 256 MiB budget they run one at a time.
      const webp = await solid(7000, 7000, [200, 100, 50], 0.5).webp({ lossless: true }).toBuffer();
      assert.ok(webp.length < 10_000);
      const file = path.join(dir, 'rgba-7000.webp');
      await writeFile(file, webp);
      const { stdout } = await run(process.execPath, ['--import', 'tsx', PROBE, file, '8', String(256 * MiB)], {
        cwd: ROOT,
        maxBuffer: 1024 * 1024,
      });
      const probe = JSON.parse(stdout) as { before: number; peak: number; ms: number; outcomes: string[] };
      assert.deepEqual(probe.outcomes, Array(8).fill(`ok ${224 * 224 * 3}`));
      const peakMiB = Math.round(probe.peak / MiB);
      t.diagnostic(`8 decodes in ${probe.ms} ms, peak resident memory ${peakMiB} MiB`);
      // One decode alone peaks near 470 MiB (the process's own ~95 MiB included).
      assert.ok(peakMiB < 1024, `peak resident memory ${peakMiB} MiB`);
    });

    test('the estimate counts what the decoder holds whole, not only the output', async () => {
      const size = model;
      const pixels = 4000 * 3000;
      const meta = {
        width: 4000,
        height: 3000,
        channels: 3,
        depth: 'uchar',
        hasAlpha: false,
        isProgressive: false,
      } as const;
      const baseline = {
        scans: 1,
        progressive: false,
        components: [
          { h: 2, v: 2 },
          { h: 1, v: 1 },
          { h: 1, v: 1 },
        ],
      };
      const progressive = { ...baseline, scans: 10, progressive: true };
      // A baseline JPEG streams, shrunk on load; a progressive one keeps 2 bytes per coefficient.
      assert.ok(estimateDecodeBytes({ format: 'jpeg', metadata: meta, size, jpeg: baseline }) < 2 * MiB);
      assert.ok(estimateDecodeBytes({ format: 'jpeg', metadata: meta, size, jpeg: progressive }) >= 3 * pixels);
      // Alpha means a full-size RGB copy on top of the decoder's own buffers.
      const alpha = { ...meta, channels: 4, hasAlpha: true } as const;
      assert.ok(estimateDecodeBytes({ format: 'png', metadata: alpha, size }) >= 3 * pixels);
      assert.ok(estimateDecodeBytes({ format: 'webp', metadata: alpha, size, webp: 'lossless' }) >= 12 * pixels);
      assert.ok(estimateDecodeBytes({ format: 'avif', metadata: meta, size }) >= 18 * pixels);
      // Lossy WebP without alpha is shrunk on load; lossless is not.
      assert.ok(estimateDecodeBytes({ format: 'webp', metadata: meta, size, webp: 'lossy' }) < MiB);
      assert.ok(estimateDecodeBytes({ format: 'webp', metadata: meta, size, webp: 'lossless' }) >= 4 * pixels);
    });

    test('tells lossy, lossless and animated WebP apart', async () => {
      const image = solid(16, 16, [1, 2, 3]);
      assert.equal(webpKind(await image.clone().webp().toBuffer()), 'lossy');
      assert.equal(webpKind(await image.clone().webp({ lossless: true }).toBuffer()), 'lossless');
      const translucent = await solid(16, 16, [1, 2, 3], 0.5).webp().toBuffer();
      assert.equal(webpKind(translucent), 'lossy'); // VP8X, then ALPH, then VP8
      const red = await solid(16, 16, [255, 0, 0]).png().toBuffer();
      const blue = await solid(16, 16, [0, 0, 255]).png().toBuffer();
      const frames = await sharp([red, blue], { join: { animated: true } } as never)
        .webp({ loop: 0 })
        .toBuffer();
      assert.equal((await sharp(frames).metadata()).pages, 2);
      assert.equal(webpKind(frames), 'animated');
    });
  });

  describe('decode budget', () => {
    test('a decode waits while the budget is spent, then proceeds', async () => {
      const budget = createDecodeBudget({ capacityBytes: 1000, waitTimeoutMs: 10_000 });
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      // The large images' share (875) and the small images' lane (125), both spent.
      const holding = Promise.all([budget.run(1000, () => gate), budget.run(125, () => gate)]);
      assert.equal(budget.inUse(), 1000);
      let decoded = false;
      const png = await solid(8, 8, [10, 20, 30]).png().toBuffer();
      const decoding = decodeImage(png, { width: 2, height: 2 }, { ...limits, budget }).finally(() => (decoded = true));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(decoded, false);
      assert.equal(budget.waiting(), 1);
      release();
      await holding;
      assert.ok(allNear(await decoding, [10, 20, 30], 0));
      assert.equal(budget.inUse(), 0);
    });

    test('large decodes keep their order; a small one that fits passes them: floods cannot starve photos', async () => {
      const budget = createDecodeBudget({ capacityBytes: 100, waitTimeoutMs: 10_000 });
      const started: string[] = [];
      let release!: () => void;
      const holding = budget.run(60, () => new Promise<void>((resolve) => (release = resolve)));
      const large = budget.run(50, async () => started.push(`large with ${budget.inUse()} in use`));
      const larger = budget.run(30, async () => started.push(`second large with ${budget.inUse()} in use`));
      const small = budget.run(10, async () => started.push(`small with ${budget.inUse()} in use`));
      await small;
      // 30 would fit beside 60 + 10, but it is not small (over an eighth): it keeps its turn behind 50.
      assert.deepEqual(started, ['small with 70 in use']);
      release();
      await Promise.all([holding, large, larger]);
      assert.deepEqual(started, ['small with 70 in use', 'large with 80 in use', 'second large with 80 in use']);
    });

    test('a decode that waits past the timeout: 503 SERVICE_OVERLOADED with Retry-After', async () => {
      const budget = createDecodeBudget({ capacityBytes: 1000, waitTimeoutMs: 50 });
      let release!: () => void;
      const holding = budget.run(1, () => new Promise<void>((resolve) => (release = resolve)));
      const png = await solid(64, 64, [10, 20, 30]).png().toBuffer();
      await assert.rejects(decodeImage(png, model, { ...limits, budget }), (error: unknown) => {
        assert.ok(error instanceof ServiceError, String(error));
        assert.equal(error.code, 'SERVICE_OVERLOADED');
        assert.equal(error.statusCode, 503);
        assert.equal(error.retryAfterSeconds, 1);
        return true;
      });
      assert.equal(budget.waiting(), 0);
      release();
      await holding;
      assert.equal(budget.inUse(), 0);
    });

    test("an image larger than the large images' share runs alone; an abandoned wait leaves the queue", async () => {
      const budget = createDecodeBudget({ capacityBytes: 100, waitTimeoutMs: 10_000 });
      const seen: number[] = [];
      await Promise.all([
        budget.run(60, async () => seen.push(budget.inUse())),
        budget.run(10_000, async () => seen.push(budget.inUse())),
        budget.run(60, async () => seen.push(budget.inUse())),
      ]);
      assert.deepEqual(seen, [60, 87, 60]);

      let release!: () => void;
      const holding = budget.run(100, () => new Promise<void>((resolve) => (release = resolve)));
      // 32 images of one request wait on its signal: one listener, not 32 (Node warns past 10).
      const controller = new AbortController();
      const waiting = Array.from({ length: 32 }, () => budget.run(20, async () => 'ran', controller.signal));
      assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
      controller.abort(new Error('client went away'));
      for (const each of waiting) await assert.rejects(each, /client went away/);
      assert.equal(budget.waiting(), 0);
      assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
      release();
      await holding;
    });

    test('auto: a quarter of the memory the process may use, between 64 and 512 MiB', () => {
      const GiB = 1024 * MiB;
      const machine = { totalMemoryBytes: 24 * GiB };
      assert.equal(usableMemoryBytes({ ...machine, lambdaMemoryMb: '2048', cgroupLimit: String(GiB) }), 2 * GiB);
      assert.equal(usableMemoryBytes({ ...machine, cgroupLimit: `${GiB}\n` }), GiB);
      assert.equal(usableMemoryBytes({ ...machine, cgroupLimit: 'max\n' }), 24 * GiB);
      assert.equal(usableMemoryBytes({ ...machine, cgroupLimit: '9223372036854771712' }), 24 * GiB);
      assert.equal(resolveDecodeMemoryBytes('auto', { ...machine, lambdaMemoryMb: '1024' }), 256 * MiB);
      assert.equal(
        resolveDecodeMemoryBytes('auto', { ...machine, lambdaMemoryMb: '128' }),
        AUTO_DECODE_MEMORY_MIN_BYTES,
      );
      assert.equal(resolveDecodeMemoryBytes('auto', { ...machine, cgroupLimit: String(GiB) }), 256 * MiB);
      assert.equal(resolveDecodeMemoryBytes('auto', machine), AUTO_DECODE_MEMORY_MAX_BYTES);
      assert.equal(resolveDecodeMemoryBytes(12_345, machine), 12_345);
    });

    test('the settings: DECODE_MEMORY_BYTES is auto or bytes; the timeouts are in ms', () => {
      const defaults = loadConfig({});
      assert.equal(defaults.decodeMemoryBytes, 'auto');
      assert.equal(defaults.decodeWaitTimeoutMs, 10_000);
      assert.equal(defaults.decodeTimeoutMs, 10_000);
      const set = loadConfig({
        DECODE_MEMORY_BYTES: '268435456',
        DECODE_WAIT_TIMEOUT_MS: '500',
        DECODE_TIMEOUT_MS: '2500',
      });
      assert.equal(set.decodeMemoryBytes, 256 * MiB);
      assert.equal(set.decodeWaitTimeoutMs, 500);
      assert.equal(set.decodeTimeoutMs, 2500);
      assert.throws(() => loadConfig({ DECODE_MEMORY_BYTES: 'lots' }), /DECODE_MEMORY_BYTES must be/);
      assert.throws(() => loadConfig({ DECODE_TIMEOUT_MS: '10' }), /DECODE_TIMEOUT_MS must be >= 1000/);
    });
  });

  describe('CPU', () => {
    let progressive: Buffer;
    before(async () => {
      // 48 megapixels of grey: each scan is a pass over 750 000 blocks.
      progressive = await solid(8456, 5704, [128, 128, 128])
        .toColourspace('b-w')
        .jpeg({ progressive: true })
        .toBuffer();
    });

    test('a progressive JPEG with 1000 scans: IMAGE_TOO_COMPLEX before decoding', async () => {
      // Decoded, it took 32 s on 2 cores (10.9 s in the attack run); 20 000 scans took minutes.
      const bomb = withRepeatedScans(progressive, 1000);
      assert.equal(readJpegLayout(bomb).scans, MAX_JPEG_SCANS + 1); // counting stops past the limit
      const ms = await timed(() => assert.rejects(decodeImage(bomb, model, limits), failsWith('IMAGE_TOO_COMPLEX')));
      assert.ok(ms < 500, `took ${ms} ms`);
    });

    test(`up to ${MAX_JPEG_SCANS} scans decode; past the decode time limit: IMAGE_TOO_COMPLEX`, {
      timeout: 60_000,
    }, async () => {
      const small = await solid(64, 48, [90, 90, 90]).jpeg({ progressive: true }).toBuffer();
      const many = withRepeatedScans(small, MAX_JPEG_SCANS);
      assert.equal(readJpegLayout(many).scans, MAX_JPEG_SCANS);
      assert.ok(allNear(await decodeImage(many, { width: 2, height: 2 }, limits), [90, 90, 90], 2));
      await assert.rejects(
        decodeImage(withRepeatedScans(small, MAX_JPEG_SCANS + 1), { width: 2, height: 2 }, limits),
        failsWith('IMAGE_TOO_COMPLEX'),
      );
      // 100 scans over 48 megapixels take several seconds: past a 1 s limit.
      const slow = withRepeatedScans(progressive, MAX_JPEG_SCANS);
      await assert.rejects(decodeImage(slow, model, { ...limits, timeoutMs: 1000 }), failsWith('IMAGE_TOO_COMPLEX'));
    });

    test('counts scans as libjpeg reads them: stuffed bytes, restart markers, fill bytes, garbage', () => {
      const sos = [0xff, 0xda, 0, 8, 1, 1, 0, 0, 63, 0];
      const jpeg = Buffer.from([
        ...[0xff, 0xd8],
        ...[0xff, 0xe0, 0, 6, 0xff, 0xda, 0xff, 0xda], // an APP0 payload that looks like SOS markers
        ...[0x00, 0x11, 0x22], // garbage between segments, skipped up to the next 0xFF
        ...[0xff, 0xc2, 0, 11, 8, 0, 16, 0, 16, 1, 1, 0x22, 0],
        ...sos,
        ...[0x12, 0xff, 0x00, 0x34, 0xff, 0xd3, 0x56, 0xff, 0xff, 0x00, 0x78], // data: FF00, RST3, FF FF 00
        ...[0xff, 0xff, 0xff], // fill bytes before the next marker
        ...sos,
        ...[0x9a, 0x00, 0x11],
        ...sos,
        ...[0xff, 0xd9],
        ...sos, // after EOI: not read
      ]);
      const layout = readJpegLayout(jpeg);
      assert.equal(layout.scans, 3);
      assert.equal(layout.progressive, true);
      assert.deepEqual(layout.components, [{ h: 2, v: 2 }]);
      assert.equal(readJpegLayout(jpeg, 1).scans, 2);
    });

    test('progressive and baseline JPEGs as encoders write them stay far below the limit', async () => {
      const photo = await readFixture('owl.jpg');
      assert.equal(readJpegLayout(photo).scans, 1);
      const progressiveColour = await sharp(photo).jpeg({ progressive: true }).toBuffer();
      const scans = readJpegLayout(progressiveColour).scans;
      assert.ok(scans > 1 && scans <= 20, `${scans} scans`);
    });
  });

  describe('decoders', () => {
    const feTurbulence =
      '<svg xmlns="http://www.w3.org/2000/svg" width="3000" height="3000"><filter id="f">' +
      '<feTurbulence baseFrequency="0.01" numOctaves="10"/></filter>' +
      '<rect width="100%" height="100%" filter="url(#f)"/></svg>';

    test('an SVG opening with <!--ftypavif-->: IMAGE_UNSUPPORTED_FORMAT at once, never rendered', async () => {
      // It passed the sniffer as AVIF and libvips rendered it as SVG: 43.8 s of CPU for 248 bytes.
      const disguised = Buffer.from(`<!--ftypavif-->${feTurbulence}`);
      assert.deepEqual(sniffFormat(disguised), { supported: false, format: 'SVG' });
      const ms = await timed(() =>
        assert.rejects(decodeImage(disguised, model, limits), failsWith('IMAGE_UNSUPPORTED_FORMAT')),
      );
      assert.ok(ms < 500, `took ${ms} ms`);
    });

    test('an SVG behind a well-formed AVIF ftyp box: refused with a 4xx code, never rendered', async () => {
      const ftyp = Buffer.concat([Buffer.from([0, 0, 0, 20]), Buffer.from('ftypavif\0\0\0\0avif', 'latin1')]);
      const disguised = Buffer.concat([ftyp, Buffer.from(feTurbulence)]);
      assert.deepEqual(sniffFormat(disguised), { supported: true, format: 'avif' });
      const ms = await timed(() =>
        assert.rejects(decodeImage(disguised, model, limits), (error: unknown) => {
          assert.ok(error instanceof ImageError, String(error));
          assert.ok(['IMAGE_CORRUPT', 'IMAGE_UNSUPPORTED_FORMAT'].includes(error.code), error.code);
          return true;
        }),
      );
      assert.ok(ms < 500, `took ${ms} ms`);
    });

    test('libvips has no loader but the supported formats: SVG, PDF, PPM, CSV... cannot be read at all', async () => {
      const others = [
        Buffer.from(feTurbulence),
        Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF'),
        Buffer.from('P6\n2 2\n255\n\0\0\0\0\0\0\0\0\0\0\0\0'),
        Buffer.from('1,2,3\n4,5,6\n'),
      ];
      for (const bytes of others) {
        await assert.rejects(sharp(bytes).metadata(), /unsupported image format/);
      }
      // ...while the supported formats still load, from buffers and files alike.
      assert.equal((await sharp(await readFixture('owl.jpg')).metadata()).format, 'jpeg');
    });

    test('a baseline JPEG with 2 colour components (149 bytes): IMAGE_UNSUPPORTED_FORMAT, not a 500', async () => {
      const twoComponents = flatJpeg(33, 17, [
        { h: 1, v: 1 },
        { h: 1, v: 1 },
      ]);
      assert.equal((await sharp(twoComponents).metadata()).channels, 2);
      await assert.rejects(decodeImage(twoComponents, model, limits), failsWith('IMAGE_UNSUPPORTED_FORMAT'));
    });

    test('JPEGs with 1, 3 (odd sampling) and 4 components decode to RGB', async () => {
      const layouts = [
        [{ h: 1, v: 1 }],
        [
          { h: 2, v: 2 },
          { h: 1, v: 1 },
          { h: 1, v: 1 },
        ],
        [
          { h: 3, v: 1 },
          { h: 1, v: 2 },
          { h: 1, v: 1 },
        ],
        [
          { h: 1, v: 1 },
          { h: 1, v: 1 },
          { h: 1, v: 1 },
          { h: 1, v: 1 },
        ],
      ];
      for (const components of layouts) {
        const pixels = await decodeImage(flatJpeg(33, 17, components), { width: 4, height: 4 }, limits);
        assert.equal(pixels.length, 4 * 4 * 3, `${components.length} components`);
      }
    });

    test('grey+alpha, palette, 16-bit RGBA and CMYK TIFFs decode to RGB, alpha discarded', async () => {
      const greyAlpha = await solid(16, 16, [90, 90, 90], 0).toColourspace('b-w').png().toBuffer();
      assert.equal((await sharp(greyAlpha).metadata()).channels, 2);
      assert.ok(allNear(await decodeImage(greyAlpha, { width: 2, height: 2 }, limits), [90, 90, 90], 0));
      const palette = await solid(16, 16, [200, 100, 50], 0.5).png({ palette: true }).toBuffer();
      assert.ok(allNear(await decodeImage(palette, { width: 2, height: 2 }, limits), [200, 100, 50], 8));
      const deep = await solid(16, 16, [200, 100, 50], 0).toColourspace('rgb16').png().toBuffer();
      assert.ok(allNear(await decodeImage(deep, { width: 2, height: 2 }, limits), [200, 100, 50], 1));
      const cmyk = await solid(16, 16, [200, 100, 50]).toColourspace('cmyk').tiff().toBuffer();
      assert.ok(allNear(await decodeImage(cmyk, { width: 2, height: 2 }, limits), [200, 100, 50], 30));
    });

    test('every code decodeImage answers is documented', () => {
      for (const code of ['IMAGE_TOO_COMPLEX', 'IMAGE_UNSUPPORTED_FORMAT', 'IMAGE_CORRUPT', 'IMAGE_TOO_MANY_PIXELS']) {
        assert.equal(ENTRY_ERRORS[code as keyof typeof ENTRY_ERRORS].stage, 'decode');
      }
    });
  });
});

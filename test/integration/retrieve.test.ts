import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../lib/config.ts';
import { ImageError, ServiceError } from '../../lib/errors.ts';
import { createDownloader } from '../../lib/images/download.ts';
import { readImageFile } from '../../lib/images/read-file.ts';
import {
  FileSourcesDisabledError,
  type RetrievalLimits,
  type RetrievedImage,
  type S3ObjectReader,
  S3SourcesDisabledError,
  createImageRetriever,
} from '../../lib/images/retrieve.ts';
import { createRuntime } from '../../lib/runtime.ts';
import { createRequestParser } from '../../lib/validation.ts';
import { silentLogger } from '../helpers/app.ts';
import { MODEL_DIR, readFixture } from '../helpers/fixtures.ts';

const size = { width: 224, height: 224 };
const downloader = createDownloader({ timeoutMs: 2000, maxBytes: 1e7, maxRedirects: 3, allowPrivateUrls: true });
const limitsFor = (maxImageBytes: number): RetrievalLimits => ({
  downloadConcurrency: 2,
  maxImageBytes,
  maxImagePixels: 5e7,
});
const failure = (image: RetrievedImage | undefined) =>
  image?.ok === false ? [image.error.code, image.error.message] : [];

describe('image retriever: file sources', () => {
  let dir: string;
  let owl: Buffer;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'retrieve-'));
    owl = await readFixture('owl.jpg');
    await writeFile(path.join(dir, 'owl.jpg'), owl);
    await writeFile(path.join(dir, 'broken.jpg'), 'not an image at all');
    await mkdir(path.join(dir, 'folder.jpg'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await downloader.close();
  });

  test('a retriever refuses file sources, the whole call, unless created with files: true', async () => {
    const file = path.join(dir, 'owl.jpg');
    const retrieve = createImageRetriever(limitsFor(1e7), downloader);
    await assert.rejects(retrieve([{ file }], size), FileSourcesDisabledError);
    // Among other images too: the whole call is refused, nothing is decoded.
    await assert.rejects(retrieve([{ data: owl.toString('base64') }, { file }], size), FileSourcesDisabledError);
    await assert.rejects(createImageRetriever(limitsFor(1e7), downloader, { files: false })([{ file }], size));

    const [image] = await createImageRetriever(limitsFor(1e7), downloader, { files: true })([{ file }], size);
    assert.ok(image?.ok);
    assert.equal(image.pixels.length, 224 * 224 * 3);
  });

  test("the runtime's retriever takes files only with fileSources (the command line), never the server's", async () => {
    const config = loadConfig({ MODEL_DIR });
    const server = createRuntime(config, { logger: silentLogger });
    const cli = createRuntime(config, { logger: silentLogger, fileSources: true });
    try {
      const file = path.join(dir, 'owl.jpg');
      await assert.rejects(server.retrieve([{ file }], size), FileSourcesDisabledError);
      assert.equal((await cli.retrieve([{ file }], size))[0]?.ok, true);
    } finally {
      await Promise.all([server.close(), cli.close()]);
    }
  });

  test("the API's request schema has no file property", () => {
    const parser = createRequestParser({ maxImagesPerRequest: 4 });
    for (const image of [{ file: '/etc/passwd' }, { url: 'https://example.com/a.jpg', file: '/etc/passwd' }]) {
      assert.throws(
        () => parser.parse({ images: [image] }),
        (error: unknown) => error instanceof ServiceError && error.code === 'REQUEST_INVALID',
      );
    }
  });

  test('each file fails on its own with its code, in order: missing, unreadable, too large, not an image', async () => {
    const retrieve = createImageRetriever(limitsFor(owl.length), downloader, { files: true });
    const images = await retrieve(
      ['owl.jpg', 'missing.jpg', 'folder.jpg', 'broken.jpg'].map((name) => ({ file: path.join(dir, name) })),
      size,
    );
    assert.equal(images[0]?.ok, true);
    assert.deepEqual(failure(images[1]), ['FILE_NOT_FOUND', 'No such file or folder.']);
    assert.deepEqual(failure(images[2]), ['FILE_UNREADABLE', 'The file could not be read (EISDIR).']);
    assert.deepEqual(failure(images[3]), ['IMAGE_UNRECOGNIZED', 'The bytes are not an image.']);

    const smaller = createImageRetriever(limitsFor(owl.length - 1), downloader, { files: true });
    const [tooLarge] = await smaller([{ file: path.join(dir, 'owl.jpg') }], size);
    assert.deepEqual(failure(tooLarge), ['IMAGE_TOO_LARGE', `The image is larger than ${owl.length - 1} bytes.`]);
  });

  test('readImageFile checks the size before reading, and gives the bytes when within it', async () => {
    assert.deepEqual(await readImageFile(path.join(dir, 'owl.jpg'), owl.length), owl);
    await assert.rejects(readImageFile(path.join(dir, 'owl.jpg'), owl.length - 1), { code: 'IMAGE_TOO_LARGE' });
    await assert.rejects(readImageFile(path.join(dir, 'missing.jpg'), 1e7), { code: 'FILE_NOT_FOUND' });
  });
});

describe('image retriever: S3 sources', () => {
  let owl: Buffer;
  /** A stand-in for the S3 reader (the real one runs against moto in batch.test.ts). */
  const reader: S3ObjectReader = async ({ bucket, key }, maxBytes) => {
    if (key === 'missing.jpg') throw new ImageError('OBJECT_NOT_FOUND');
    if (key === 'failing.jpg') throw new Error(`S3 failed for ${bucket}`);
    if (owl.length > maxBytes) throw new ImageError('IMAGE_TOO_LARGE');
    return owl;
  };
  // No download here: the downloader (closed by the file tests) is never used.
  before(async () => {
    owl = await readFixture('owl.jpg');
  });

  test('a retriever refuses S3 sources, the whole call, unless created with an S3 reader', async () => {
    const s3 = { bucket: 'images', key: 'owl.jpg' };
    const plain = createImageRetriever(limitsFor(1e7), downloader);
    await assert.rejects(plain([{ s3 }], size), S3SourcesDisabledError);
    await assert.rejects(plain([{ data: owl.toString('base64') }, { s3 }], size), S3SourcesDisabledError);
    // Files enabled is not S3 enabled.
    await assert.rejects(createImageRetriever(limitsFor(1e7), downloader, { files: true })([{ s3 }], size));

    const batch = createImageRetriever(limitsFor(1e7), downloader, { s3: reader });
    const images = await batch([{ s3 }, { s3: { ...s3, key: 'missing.jpg' } }], size);
    assert.equal(images[0]?.ok, true);
    assert.deepEqual(failure(images[1]), ['OBJECT_NOT_FOUND', 'No such S3 object (or bucket).']);
    assert.deepEqual(
      failure((await createImageRetriever(limitsFor(10), downloader, { s3: reader })([{ s3 }], size))[0]),
      ['IMAGE_TOO_LARGE', 'The image has too many bytes.'],
    );
    // Anything but an ImageError fails the whole call: a batch chunk is then retried.
    await assert.rejects(batch([{ s3 }, { s3: { ...s3, key: 'failing.jpg' } }], size), /S3 failed for images/);
  });

  test("the runtime's retriever takes S3 sources only with s3Sources (batch jobs), never the server's", async () => {
    const config = loadConfig({ MODEL_DIR });
    const server = createRuntime(config, { logger: silentLogger, fileSources: true });
    const batch = createRuntime(config, { logger: silentLogger, s3Sources: reader });
    try {
      const s3 = { bucket: 'images', key: 'owl.jpg' };
      await assert.rejects(server.retrieve([{ s3 }], size), S3SourcesDisabledError);
      assert.equal((await batch.retrieve([{ s3 }], size))[0]?.ok, true);
    } finally {
      await Promise.all([server.close(), batch.close()]);
    }
  });

  test("the API's request schema has no s3 property", () => {
    const parser = createRequestParser({ maxImagesPerRequest: 4 });
    for (const image of [{ s3: { bucket: 'b', key: 'k.jpg' } }, { data: 'AAAA', s3: { bucket: 'b', key: 'k.jpg' } }]) {
      assert.throws(
        () => parser.parse({ images: [image] }),
        (error: unknown) => error instanceof ServiceError && error.code === 'REQUEST_INVALID',
      );
    }
  });
});

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ServiceError } from '../../lib/errors.ts';
import { createDownloader } from '../../lib/images/download.ts';
import { createImageRetriever } from '../../lib/images/retrieve.ts';
import type { Classifier } from '../../lib/model/classifier.ts';
import { type PredictDeps, classifyEach, predict } from '../../lib/service.ts';
import { sharedClassifier } from '../helpers/app.ts';
import { FIXTURES_DIR, expected, readFixture } from '../helpers/fixtures.ts';

const acceptable = (name: string, category: string | undefined) =>
  expected[name]!.acceptable_top1_wnids.includes(category ?? '');

describe('service: classifyEach and predict', () => {
  const downloader = createDownloader({ timeoutMs: 2000, maxBytes: 1e7, maxRedirects: 3, allowPrivateUrls: true });
  const retrieve = createImageRetriever(
    { downloadConcurrency: 2, maxImageBytes: 1e7, maxImagePixels: 5e7 },
    downloader,
    { files: true },
  );
  /** The real model, counting the images it is given. */
  let deps: PredictDeps & { classified: number[] };
  let dir: string;
  let owl: string;
  let cat: string;
  before(async () => {
    const classifier = await sharedClassifier();
    const classified: number[] = [];
    const counting: Classifier = Object.create(classifier, {
      classify: {
        value: (images: ReadonlyArray<Uint8Array>) => {
          classified.push(images.length);
          return classifier.classify(images);
        },
      },
    });
    deps = { classifier: counting, retrieve, classified };
    dir = await mkdtemp(path.join(os.tmpdir(), 'service-'));
    await writeFile(path.join(dir, 'broken.jpg'), 'not an image at all');
    owl = (await readFixture('owl.jpg')).toString('base64');
    cat = (await readFixture('cat.bmp')).toString('base64');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await downloader.close();
  });

  test('classifyEach gives one outcome per image, in order: failures alone, the others classified', async () => {
    deps.classified.length = 0;
    const { outcomes, timings } = await classifyEach(
      {
        images: [
          { file: path.join(FIXTURES_DIR, 'parrot.jpg') },
          { file: path.join(dir, 'broken.jpg') },
          { data: owl },
          { file: path.join(dir, 'missing.jpg') },
          { data: cat },
        ],
        top_k: 3,
      },
      deps,
    );
    assert.deepEqual(
      outcomes.map((outcome) => (outcome.ok ? 'ok' : outcome.error.code)),
      ['ok', 'IMAGE_UNRECOGNIZED', 'ok', 'FILE_NOT_FOUND', 'ok'],
    );
    const top = outcomes.map((outcome) => (outcome.ok ? outcome.result : undefined));
    assert.ok(acceptable('parrot.jpg', top[0]?.category));
    assert.ok(acceptable('owl.jpg', top[2]?.category));
    assert.ok(acceptable('cat.bmp', top[4]?.category));
    for (const result of [top[0], top[2], top[4]]) {
      assert.equal(result?.predictions?.length, 3);
      assert.deepEqual(result.predictions[0], { score: result.score, category: result.category, name: result.name });
    }
    assert.deepEqual(deps.classified, [3], 'only the three good images reach the model, in one call');
    assert.equal(timings.images, 5);
    assert.equal(
      timings.batchSizes.reduce((a, b) => a + b, 0),
      3,
    );
  });

  test('classifyEach: top_k 1 gives the prediction alone; when every image fails, the model does not run', async () => {
    const { outcomes } = await classifyEach({ images: [{ data: owl }], top_k: 1 }, deps);
    assert.ok(outcomes[0]?.ok);
    assert.deepEqual(Object.keys(outcomes[0].result), ['score', 'category', 'name']);

    deps.classified.length = 0;
    const failed = await classifyEach(
      { images: [{ data: 'AA==' }, { file: path.join(dir, 'missing.jpg') }], top_k: 1 },
      deps,
    );
    assert.deepEqual(
      failed.outcomes.map((outcome) => (outcome.ok ? 'ok' : outcome.error.code)),
      ['IMAGE_UNRECOGNIZED', 'FILE_NOT_FOUND'],
    );
    assert.deepEqual(deps.classified, []);
    assert.deepEqual((await classifyEach({ images: [], top_k: 1 }, deps)).outcomes, []);
  });

  test('predict answers IMAGES_REJECTED naming every failing image, without running the model', async () => {
    deps.classified.length = 0;
    const rejected = await predict(
      { images: [{ data: owl }, { data: Buffer.from('plain text').toString('base64') }, { data: '@@' }], top_k: 1 },
      deps,
    ).then(
      () => assert.fail('predict should have thrown'),
      (error: unknown) => error,
    );
    assert.ok(rejected instanceof ServiceError);
    assert.equal(rejected.code, 'IMAGES_REJECTED');
    assert.deepEqual(
      rejected.errors?.map(({ index, code }) => [index, code]),
      [
        [1, 'IMAGE_UNRECOGNIZED'],
        [2, 'IMAGE_DATA_INVALID'],
      ],
    );
    assert.deepEqual(deps.classified, [], 'no model call for a request that is answered 400');
  });

  test('predict gives the same results as classifyEach when every image is good', async () => {
    // A new request each time: the retriever drops an image's base64 once it is decoded.
    const request = () => ({ images: [{ data: owl }, { data: cat }], top_k: 2 });
    const { body, timings } = await predict(request(), deps);
    const { outcomes } = await classifyEach(request(), deps);
    assert.deepEqual(
      body.images,
      outcomes.map((outcome) => (outcome.ok ? outcome.result : undefined)),
    );
    assert.equal(timings.images, 2);
  });
});

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type RunningApp, startApp } from '../helpers/app.ts';
import { MODEL_DIR, expected, fixtureNames, readFixture } from '../helpers/fixtures.ts';
import { type TestServer, startHttpServer } from '../helpers/http-server.ts';
import { ROOT } from '../helpers/process.ts';

const exec = promisify(execFile);

/** Runs bin/classify.mjs as a user would, with stdout and stderr piped (not terminals). */
async function classify(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return classifyWith({}, ...args);
}

async function classifyWith(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ['bin/classify.mjs', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const acceptable = (name: string, category: string) => expected[name]!.acceptable_top1_wnids.includes(category);

describe('classify (command line)', () => {
  let dir: string;
  let images: TestServer;
  let socket: Server;
  /** Downloads in progress on the image server right now, and the most seen at once. */
  const downloads = { now: 0, most: 0 };
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'classify-'));
    await writeFile(path.join(dir, 'broken.jpg'), 'not an image at all');
    // A Unix socket is listed like a file but cannot be read, even by root.
    socket = createServer();
    await new Promise<void>((resolve) => socket.listen(path.join(dir, 'socket.jpg'), resolve));
    images = await startHttpServer(async (req, res) => {
      const [name, query] = (req.url ?? '').slice(1).split('?');
      if (!fixtureNames.includes(name!)) return void res.writeHead(404).end();
      downloads.most = Math.max(downloads.most, ++downloads.now);
      if (query === 'slow') await new Promise((resolve) => setTimeout(resolve, 100));
      downloads.now--;
      res.end(await readFixture(name!));
    });
  });
  after(async () => {
    socket.close();
    await rm(dir, { recursive: true, force: true });
    await images.close();
  });

  test('classifies a folder recursively in this process and prints a table, one row per image', async () => {
    const { code, stdout, stderr } = await classify('test/fixtures');
    assert.equal(code, 0, stderr);
    const lines = stdout.trim().split('\n');
    assert.match(lines[0]!, /^FILE\s+TOP-1\s+SCORE$/);
    assert.equal(lines.at(-1), '10 images: 10 classified, 0 failed');
    const rows = lines.slice(1, -1);
    assert.equal(rows.length, fixtureNames.length);
    const classNames = new Map(
      Object.values(
        JSON.parse(await readFile(path.join(MODEL_DIR, 'imagenet_class_index.json'), 'utf8')) as Array<
          [string, string]
        >,
      ).map(([id, name]) => [id, name]),
    );
    for (const row of rows) {
      const [file, name, score] = row.split(/\s{2,}/);
      const fixture = path.basename(file!);
      const acceptableNames = expected[fixture]!.acceptable_top1_wnids.map((id) => classNames.get(id));
      assert.ok(acceptableNames.includes(name), `${fixture}: ${name} not in ${acceptableNames}`);
      assert.ok(Math.abs(Number(score) - expected[fixture]!.top1.prob) <= 0.02, `${fixture}: ${score}`);
    }
    assert.equal(stderr, '', 'no progress bar when piped');
  });

  test('prints JSON lines with the top k, for files and URLs, in the order given', async () => {
    const { code, stdout } = await classify('--json', '--top', '3', 'test/fixtures/cat.bmp', images.url('/parrot.jpg'));
    assert.equal(code, 0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { file: string; predictions: Array<{ category: string; score: number }> });
    assert.deepEqual(
      lines.map((l) => l.file),
      ['test/fixtures/cat.bmp', images.url('/parrot.jpg')],
    );
    assert.ok(acceptable('cat.bmp', lines[0]!.predictions[0]!.category));
    assert.ok(acceptable('parrot.jpg', lines[1]!.predictions[0]!.category));
    assert.ok(lines.every((l) => l.predictions.length === 3));
  });

  test('exits 1 naming each file that failed and why, and still classifies the others', async () => {
    const { code, stdout } = await classify(
      path.join(dir, 'broken.jpg'),
      'test/fixtures/owl.jpg',
      path.join(dir, 'missing.png'),
    );
    assert.equal(code, 1);
    assert.match(stdout, /broken\.jpg\s+error IMAGE_UNRECOGNIZED/);
    assert.match(stdout, /broken\.jpg: The bytes are not an image\./);
    assert.match(stdout, /missing\.png: No such file or folder\./);
    assert.match(stdout, /owl\.jpg\s+ruffed_grouse/);
    assert.match(stdout, /3 images: 1 classified, 2 failed/);
  });

  test('names unreadable files and files over MAX_IMAGE_BYTES, in this process and through a service', async () => {
    const app = await startApp({ env: { ALLOW_PRIVATE_URLS: 'true' } });
    try {
      const args = ['--json', path.join(dir, 'socket.jpg'), 'test/fixtures/kite_and_cold.jpg', 'test/fixtures/owl.jpg'];
      const env = { MAX_IMAGE_BYTES: String((await readFixture('owl.jpg')).length) };
      for (const extra of [[], ['--endpoint', app.baseUrl]]) {
        const { code, stdout } = await classifyWith(env, ...extra, ...args);
        assert.equal(code, 1);
        const lines = stdout
          .trim()
          .split('\n')
          .map(
            (line) =>
              JSON.parse(line) as {
                predictions?: Array<{ category: string }>;
                error?: { code: string; message: string };
              },
          );
        assert.equal(lines[0]!.error?.code, 'FILE_UNREADABLE', extra.join(' '));
        assert.match(lines[0]!.error!.message, /could not be read \(ENXIO\)/);
        assert.equal(lines[1]!.error?.code, 'IMAGE_TOO_LARGE', extra.join(' '));
        assert.ok(acceptable('owl.jpg', lines[2]!.predictions![0]!.category), extra.join(' '));
      }
    } finally {
      await app.close();
    }
  });

  test('downloads at most THREAD_COUNT URLs at a time', async () => {
    const urls = ['owl.jpg', 'parrot.jpg', 'hot_dog.jpg', 'cat_720p.jpg', 'kite_and_cold.jpg', 'owl.jpg'].map((name) =>
      images.url(`/${name}?slow`),
    );
    downloads.most = 0;
    const { code, stderr } = await classifyWith({ THREAD_COUNT: '2' }, '--json', ...urls);
    assert.equal(code, 0, stderr);
    assert.equal(downloads.most, 2);
  });

  test('exits 1 with the reason when the model folder cannot be used', async () => {
    const { code, stdout, stderr } = await classify('--model-dir', dir, 'test/fixtures/owl.jpg');
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(
      stderr,
      new RegExp(
        '^classify: the model could not be loaded: ' +
          'The model folder .* has neither model\\.json \\(TF\\.js\\) nor model\\.onnx\\.\n$',
      ),
    );
  });

  test('exits 2 with the usage on a bad flag', async () => {
    const { code, stderr } = await classify('--top', '11', 'test/fixtures/owl.jpg');
    assert.equal(code, 2);
    assert.match(stderr, /--top must be an integer from 1 to 10/);
    assert.match(stderr, /Usage: classify/);
    assert.equal((await classify()).code, 2);
  });

  test('draws a progress bar on stderr when asked to', async () => {
    const { code, stderr } = await classify('--progress', '--json', 'test/fixtures');
    assert.equal(code, 0);
    assert.match(stderr, /\[#{30}\] 10\/10/);
  });

  describe('with --endpoint (a running service)', () => {
    let app: RunningApp;
    before(async () => {
      app = await startApp({ env: { ALLOW_PRIVATE_URLS: 'true' } });
    });
    after(() => app.close());

    test('gives the same top-1 as in-process, failures named, the good images still classified', async () => {
      const args = ['--json', 'test/fixtures', path.join(dir, 'broken.jpg'), images.url('/hot_dog.jpg')];
      const remote = await classify('--endpoint', app.baseUrl, ...args);
      const local = await classify(...args);
      assert.equal(remote.code, 1);
      const parse = (out: string) =>
        out
          .trim()
          .split('\n')
          .map(
            (line) =>
              JSON.parse(line) as { file: string; predictions?: Array<{ category: string }>; error?: { code: string } },
          );
      const [r, l] = [parse(remote.stdout), parse(local.stdout)];
      assert.equal(r.length, 12);
      assert.deepEqual(
        r.map((x) => [x.file, x.predictions?.[0]?.category ?? x.error?.code]),
        l.map((x) => [x.file, x.predictions?.[0]?.category ?? x.error?.code]),
      );
      assert.equal(r.find((x) => x.file.endsWith('broken.jpg'))?.error?.code, 'IMAGE_UNRECOGNIZED');
    });

    test('says when the service cannot be reached', async () => {
      const { code, stdout } = await classify('--endpoint', 'http://127.0.0.1:9', 'test/fixtures/owl.jpg');
      assert.equal(code, 1);
      assert.match(stdout, /error SERVICE_UNREACHABLE/);
    });
  });
});

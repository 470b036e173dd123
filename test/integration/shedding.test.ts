/**
 * Load shedding on the real server: a request the pipeline cannot take gets its 503 without the
 * server reading its body, on a connection that closes without a reset; bodies being read hold a
 * place; a body that arrives once the pipeline is full is refused before it is parsed; and the
 * server serves normally afterwards.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type Socket, connect } from 'node:net';
import { type TestContext, after, before, describe, test } from 'node:test';
import { LINGER_MS } from '../../lib/http/unread-body.ts';
import { type RunningApp, post, startApp } from '../helpers/app.ts';
import { modelSizedJpegBase64, readFixture } from '../helpers/fixtures.ts';
import { type TestServer, startHttpServer } from '../helpers/http-server.ts';

interface RawAnswer {
  status: number;
  head: string;
  body: { code?: string };
}

/** A predict request on a raw socket: its headers and `sent` of its body, the rest held back. */
async function startUpload(baseUrl: string, contentLength: number, sent: string): Promise<Socket> {
  // Half-open allowed: the test writes after the server has closed its side.
  const socket = connect({ port: Number(new URL(baseUrl).port), host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  socket.write(
    'POST /v1/predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${contentLength}\r\n\r\n${sent}`,
  );
  return socket;
}

/** The first answer on a socket, once it has arrived whole (Content-Length), without waiting for a close. */
function readAnswer(socket: Socket): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let received = '';
    const onData = (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = received.slice(0, end);
      const length = Number(/^content-length: (\d+)$/im.exec(head)?.[1]);
      const body = received.slice(end + 4);
      if (body.length < length) return;
      socket.off('data', onData);
      resolve({ status: Number(head.split(' ')[1]), head, body: JSON.parse(body.slice(0, length)) });
    };
    socket.on('data', onData).once('error', reject);
  });
}

const header = (answer: RawAnswer, name: string) =>
  new RegExp(`^${name}: (.*)$`, 'im').exec(answer.head)?.[1]?.trim().toLowerCase();

describe('load shedding (MAX_QUEUE_IMAGES=2)', { timeout: 20_000 }, () => {
  let app: RunningApp;
  let origin: TestServer;
  let photo: string;
  /** Image downloads the origin has received and holds until released. */
  let held: Array<() => void> = [];
  let arrived: () => void = () => {};

  before(async () => {
    const owl = await readFixture('owl.jpg');
    photo = await modelSizedJpegBase64('owl.jpg');
    origin = await startHttpServer((_request, response) => {
      held.push(() => response.end(owl));
      arrived();
    });
    app = await startApp({ env: { ALLOW_PRIVATE_URLS: 'true', MAX_QUEUE_IMAGES: '2', MAX_IMAGES_PER_REQUEST: '2' } });
  });
  after(async () => {
    await app.close();
    await origin.close();
  });

  /** Fills the pipeline with a request of two downloads that wait for `release()` (the test's end, at the latest). */
  async function fillPipeline(t: TestContext): Promise<{ answered: ReturnType<typeof post>; release: () => void }> {
    held = [];
    const bothArrived = new Promise<void>((resolve) => {
      arrived = () => held.length === 2 && resolve();
    });
    const answered = post(`${app.baseUrl}/v1/predict`, {
      images: [{ url: origin.url('/a.jpg') }, { url: origin.url('/b.jpg') }],
    });
    await bothArrived;
    const release = () => {
      for (const end of held) end();
    };
    t.after(async () => {
      release();
      await answered;
    });
    return { answered, release };
  }

  test('a full pipeline refuses an upload after its headers: 503, Retry-After, Connection: close', async (t) => {
    const { answered, release } = await fillPipeline(t);

    // 5 MB announced, 12 bytes sent: the answer cannot have waited for the body.
    const socket = await startUpload(app.baseUrl, 5_000_000, '{"images": [');
    t.after(() => socket.destroy());
    const answer = await readAnswer(socket);
    assert.equal(answer.status, 503);
    assert.equal(answer.body.code, 'SERVICE_OVERLOADED');
    assert.equal(header(answer, 'retry-after'), '1');
    assert.equal(header(answer, 'connection'), 'close', 'else Node would read the rest of the body to reuse it');

    // The server half-closes, and leaves the socket open a while: more of the body, still on its
    // way, must not meet a reset that could cost a client the answer before it reads it.
    const errors: Error[] = [];
    socket.on('error', (error) => errors.push(error));
    await once(socket.resume(), 'end');
    // A closed socket answers the first write with a reset, which fails the next one.
    for (let i = 0; i < 2; i++) {
      socket.write(Buffer.alloc(16 * 1024, 0x20));
      await new Promise((resolve) => setTimeout(resolve, Math.min(100, LINGER_MS / 4)));
    }
    assert.deepEqual(errors, [], 'no reset while the server lingers');

    release();
    assert.equal((await answered).status, 200);
    const normal = await post(`${app.baseUrl}/v1/predict`, { images: [{ data: photo }] });
    assert.equal(normal.status, 200);
    assert.equal(normal.body.images.length, 1);
  });

  test('bodies being read hold a place: with both places taken, a third request is refused at once', async (t) => {
    const body = JSON.stringify({ images: [{ data: photo }] });
    const first = await startUpload(app.baseUrl, body.length, body.slice(0, 10));
    const second = await startUpload(app.baseUrl, body.length, body.slice(0, 10));
    t.after(() => {
      for (const socket of [first, second]) socket.destroy();
    });
    await new Promise((resolve) => setTimeout(resolve, 100));

    const third = await post(`${app.baseUrl}/v1/predict`, { images: [{ data: photo }] });
    assert.equal(third.status, 503);
    assert.equal(third.body.code, 'SERVICE_OVERLOADED');

    // Each finished upload is admitted (one image each fits) and classified.
    for (const socket of [first, second]) {
      const answer = readAnswer(socket);
      socket.write(body.slice(10));
      assert.equal((await answer).status, 200);
    }
    assert.equal((await post(`${app.baseUrl}/v1/predict`, { images: [{ data: photo }] })).status, 200);
  });

  test('a body that arrives once the pipeline is full is refused before it is parsed', async (t) => {
    // Its headers come while there is room: its body is read, holding one place.
    const late = await startUpload(app.baseUrl, 20, '{');
    t.after(() => late.destroy());
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Two images fill the pipeline meanwhile (a body in hand is admitted before one still coming).
    const { answered, release } = await fillPipeline(t);

    // Not JSON: parsed, it would be a 400.
    const answer = readAnswer(late);
    late.write('not json at all!!!!');
    const refused = await answer;
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 'SERVICE_OVERLOADED');

    release();
    assert.equal((await answered).status, 200);
  });
});

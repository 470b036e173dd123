/**
 * API keys (API_KEYS, API_KEYS_FILE): reading and checking them at start-up, the auth plugin on a
 * bare Fastify instance (app.inject), the real server on an ephemeral port with and without keys,
 * and the server as a process: it refuses to start with a bad key, and never logs one.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { ConfigError, loadConfig } from '../../lib/config.ts';
import {
  AUTH_INVALID_CHALLENGE,
  AUTH_REQUIRED_CHALLENGE,
  authPlugin,
  keyMatcher,
  presentedKey,
} from '../../lib/http/auth.ts';
import { bodyParserPlugin } from '../../lib/http/body-parser.ts';
import { errorHandlerPlugin } from '../../lib/http/error-handler.ts';
import { createServer } from '../../lib/http/server.ts';
import type { Classifier } from '../../lib/model/classifier.ts';
import { type RunningApp, silentLogger, startApp } from '../helpers/app.ts';
import { expected, readFixture } from '../helpers/fixtures.ts';
import { ROOT, spawnServer, waitUntilReady } from '../helpers/process.ts';
import { lineText, recordingLogger } from '../helpers/recording-logger.ts';

const KEY = 'test-key-0123456789abcdef';
const OTHER_KEY = 'other-key-fedcba9876543210';
const FILE_KEY = 'file-key-aaaaaaaaaaaaaaaa';
const WRONG_KEY = 'wrong-key-0000000000000000';

let scratch: string;
before(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'api-keys-'));
});
after(() => rm(scratch, { recursive: true, force: true }));

async function keysFile(name: string, text: string): Promise<string> {
  const file = path.join(scratch, name);
  await writeFile(file, text);
  return file;
}

/** Runs `check` on the ConfigError that loading `env` throws, after asserting no key is in its message. */
function assertRefused(env: Record<string, string>, check: (message: string) => void): void {
  assert.throws(
    () => loadConfig(env),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      for (const key of (env.API_KEYS ?? '').split(',').filter(Boolean))
        assert.ok(!error.message.includes(key.trim()), `the message shows a key: ${error.message}`);
      check(error.message);
      return true;
    },
  );
}

describe('API keys', () => {
  describe('configuration (loadConfig)', () => {
    test('no keys by default: authentication is off', () => {
      assert.deepEqual(loadConfig({}).apiKeys, []);
      assert.deepEqual(loadConfig({ API_KEYS: ' ', API_KEYS_FILE: '' }).apiKeys, []);
    });

    test('API_KEYS: comma-separated, trimmed, empty items dropped', () => {
      const config = loadConfig({ API_KEYS: ` ${KEY} ,, ${OTHER_KEY},` });
      assert.deepEqual(config.apiKeys, [KEY, OTHER_KEY]);
      assert.ok(Object.isFrozen(config.apiKeys));
    });

    test('API_KEYS_FILE: a key a line, blank lines and # comments ignored (CRLF, BOM); added to API_KEYS', async () => {
      const file = await keysFile(
        'keys.txt',
        `\uFEFF# Keys of the image classifier\n\n${FILE_KEY}\r\n   # the other team\n  ${OTHER_KEY}  \n${KEY}\n`,
      );
      assert.deepEqual(loadConfig({ API_KEYS_FILE: file }).apiKeys, [FILE_KEY, OTHER_KEY, KEY]);
      assert.deepEqual(
        loadConfig({ API_KEYS: KEY, API_KEYS_FILE: file }).apiKeys,
        [KEY, FILE_KEY, OTHER_KEY],
        'the union, each key once',
      );
    });

    test('a relative API_KEYS_FILE resolves against the working directory', async () => {
      const file = await keysFile('relative.txt', `${FILE_KEY}\n`);
      assert.deepEqual(loadConfig({ API_KEYS_FILE: path.relative(process.cwd(), file) }).apiKeys, [FILE_KEY]);
    });

    test('refuses a key shorter than 16 characters, naming API_KEYS and the position, never the key', () => {
      assertRefused({ API_KEYS: `${KEY},short-key-15chr` }, (message) => {
        assert.match(message, /API_KEYS: key 2 of 2 is 15 characters long; keys need at least 16/);
      });
    });

    test('refuses a key with a space or a character a header cannot carry', () => {
      assertRefused({ API_KEYS: 'sixteen chars ok' }, (message) =>
        assert.match(message, /API_KEYS: key 1 of 1 has a space/),
      );
      assertRefused({ API_KEYS: 'clé-de-seize-caractères' }, (message) =>
        assert.match(message, /API_KEYS: key 1 of 1 has a space or a character other than printable ASCII/),
      );
    });

    test('refuses a file key that is too short or has a trailing comment, naming the file and the line', async () => {
      const file = await keysFile('bad.txt', `# comment\n${KEY}\ntoo-short\n${OTHER_KEY} # ops team\n`);
      assertRefused({ API_KEYS_FILE: file }, (message) => {
        assert.ok(!message.includes('too-short'), message);
        assert.ok(!message.includes(OTHER_KEY), message);
        assert.match(message, new RegExp(`API_KEYS_FILE ${file}: the key on line 3 is 9 characters long`));
        assert.match(message, new RegExp(`API_KEYS_FILE ${file}: the key on line 4 has a space`));
      });
    });

    test('refuses a missing file, a folder, and a file without keys', async () => {
      const missing = path.join(scratch, 'missing.txt');
      assertRefused({ API_KEYS_FILE: missing }, (message) =>
        assert.equal(message, `Invalid configuration: API_KEYS_FILE ${missing} could not be read: no such file`),
      );
      assertRefused({ API_KEYS_FILE: scratch }, (message) =>
        assert.match(message, /could not be read: it is a folder/),
      );
      const empty = await keysFile('empty.txt', '# nobody yet\n\n   \n');
      assertRefused({ API_KEYS_FILE: empty }, (message) =>
        assert.match(message, /API_KEYS_FILE .*empty\.txt has no keys \(only blank lines and # comments\)/),
      );
      // Keys in API_KEYS do not excuse an empty file: it is a mistake either way.
      assertRefused({ API_KEYS: KEY, API_KEYS_FILE: empty }, (message) => assert.match(message, /has no keys/));
    });
  });

  describe('the key check', () => {
    test('keyMatcher accepts each key and nothing else: no prefix, extension, case change or empty string', () => {
      const isKey = keyMatcher([KEY, OTHER_KEY]);
      assert.equal(isKey(KEY), true);
      assert.equal(isKey(OTHER_KEY), true);
      for (const wrong of [WRONG_KEY, KEY.slice(0, -1), `${KEY}x`, KEY.toUpperCase(), '', `${KEY},${OTHER_KEY}`])
        assert.equal(isKey(wrong), false, wrong);
      assert.equal(keyMatcher([])(KEY), false);
    });

    test('presentedKey reads a bearer token (any case of the scheme), else x-api-key', () => {
      assert.equal(presentedKey({ authorization: `Bearer ${KEY}` }), KEY);
      assert.equal(presentedKey({ authorization: `bearer   ${KEY} ` }), KEY);
      assert.equal(presentedKey({ 'x-api-key': ` ${KEY}` }), KEY);
      assert.equal(presentedKey({ authorization: 'Basic dXNlcjpwYXNz', 'x-api-key': KEY }), KEY);
      assert.equal(presentedKey({ authorization: `Bearer ${KEY}`, 'x-api-key': WRONG_KEY }), KEY, 'Bearer first');
      for (const headers of [
        {},
        { authorization: 'Basic dXNlcjpwYXNz' },
        { authorization: 'Bearer ' },
        { 'x-api-key': '' },
      ])
        assert.equal(presentedKey(headers), undefined, JSON.stringify(headers));
    });
  });

  describe('auth plugin (with the error handler and body parser), on a bare Fastify instance', () => {
    async function withKeys(t: TestContext, apiKeys: readonly string[]): Promise<FastifyInstance> {
      const app = Fastify();
      await app.register(authPlugin, { apiKeys });
      await app.register(errorHandlerPlugin, { logger: silentLogger });
      await app.register(bodyParserPlugin, { maxBodyBytes: 1024 });
      app.get('/health', async () => ({ message: 'OK' }));
      app.get('/docs/static/index.html', async () => 'docs');
      app.get('/', async () => 'demo page');
      app.get('/v1/things', async () => ({ ok: true }));
      app.post('/v1/things', async () => ({ ok: true }));
      await app.ready();
      t.after(() => app.close());
      return app;
    }

    test('without keys, adds no check: every route answers as before', async (t) => {
      const app = await withKeys(t, []);
      assert.equal((await app.inject({ method: 'GET', url: '/v1/things' })).statusCode, 200);
      const wrong = await app.inject({ method: 'GET', url: '/v1/things', headers: { 'x-api-key': WRONG_KEY } });
      assert.equal(wrong.statusCode, 200, 'a key sent to a server without keys is ignored');
      assert.equal((await app.inject({ method: 'GET', url: '/v1/nope' })).json().code, 'ROUTE_NOT_FOUND');
    });

    test('without a key: 401 AUTH_REQUIRED with a Bearer challenge', async (t) => {
      const app = await withKeys(t, [KEY]);
      const response = await app.inject({ method: 'GET', url: '/v1/things' });
      assert.equal(response.statusCode, 401);
      assert.deepEqual(response.json(), {
        code: 'AUTH_REQUIRED',
        message: 'This API needs a key: send Authorization: Bearer <key> or x-api-key: <key>.',
      });
      assert.equal(response.headers['www-authenticate'], 'Bearer realm="image-classifier"');
      assert.equal(AUTH_REQUIRED_CHALLENGE, 'Bearer realm="image-classifier"');
      const basic = await app.inject({ method: 'GET', url: '/v1/things', headers: { authorization: 'Basic eDp5' } });
      assert.equal(basic.json().code, 'AUTH_REQUIRED', 'another scheme is no key');
    });

    test('with a wrong key: 401 AUTH_INVALID, error="invalid_token" (RFC 6750)', async (t) => {
      const app = await withKeys(t, [KEY]);
      for (const headers of [{ authorization: `Bearer ${WRONG_KEY}` }, { 'x-api-key': WRONG_KEY }]) {
        const response = await app.inject({ method: 'GET', url: '/v1/things', headers });
        assert.equal(response.statusCode, 401);
        assert.deepEqual(response.json(), { code: 'AUTH_INVALID', message: 'The API key is not valid.' });
        assert.equal(response.headers['www-authenticate'], 'Bearer realm="image-classifier", error="invalid_token"');
        assert.equal(response.headers['www-authenticate'], AUTH_INVALID_CHALLENGE);
        assert.ok(!response.body.includes(WRONG_KEY), 'the key is not echoed');
      }
    });

    test('with a right key, as a bearer token or in x-api-key: the route answers', async (t) => {
      const app = await withKeys(t, [KEY, OTHER_KEY]);
      for (const headers of [
        { authorization: `Bearer ${KEY}` },
        { authorization: `bearer ${OTHER_KEY}` },
        { 'x-api-key': KEY },
      ]) {
        const response = await app.inject({ method: 'GET', url: '/v1/things', headers });
        assert.equal(response.statusCode, 200, JSON.stringify(headers));
        assert.equal(response.headers['www-authenticate'], undefined);
      }
    });

    test('leaves health, the docs and the demo page open', async (t) => {
      const app = await withKeys(t, [KEY]);
      for (const url of ['/health', '/docs/static/index.html', '/'])
        assert.equal((await app.inject({ method: 'GET', url })).statusCode, 200, url);
      assert.equal((await app.inject({ method: 'GET', url: '/nope' })).json().code, 'ROUTE_NOT_FOUND');
    });

    test('answers unknown /v1 routes and methods with 401 too: no key, no route names', async (t) => {
      const app = await withKeys(t, [KEY]);
      for (const [method, url] of [
        ['GET', '/v1/nope'],
        ['GET', '/v1'],
        ['DELETE', '/v1/things'],
        ['OPTIONS', '/v1/things'],
      ] as const) {
        const response = await app.inject({ method, url });
        assert.equal(response.statusCode, 401, `${method} ${url}`);
        assert.equal(response.json().code, 'AUTH_REQUIRED');
      }
      const withKey = await app.inject({ method: 'GET', url: '/v1/nope', headers: { 'x-api-key': KEY } });
      assert.equal(withKey.json().code, 'ROUTE_NOT_FOUND', 'with a key, the usual 404');
    });

    test('decides by the route matched, so a percent-encoded path cannot slip past', async (t) => {
      const app = await withKeys(t, [KEY]);
      // The router decodes the path: /%761/things is the /v1/things route.
      for (const url of ['/%761/things', '/v1/%74hings', '/v1/things?x=1', '/%76%31/nope']) {
        const response = await app.inject({ method: 'GET', url });
        assert.equal(response.statusCode, 401, url);
      }
      assert.equal(
        (await app.inject({ method: 'GET', url: '/%761/things', headers: { 'x-api-key': KEY } })).statusCode,
        200,
      );
    });

    test('refuses before the body is read: a wrong content type or an oversized body still gets 401', async (t) => {
      const app = await withKeys(t, [KEY]);
      const wrongType = await app.inject({
        method: 'POST',
        url: '/v1/things',
        headers: { 'content-type': 'text/plain' },
        payload: 'hello',
      });
      assert.equal(wrongType.json().code, 'AUTH_REQUIRED');
      const large = await app.inject({
        method: 'POST',
        url: '/v1/things',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ padding: 'x'.repeat(4096) }),
      });
      assert.equal(large.json().code, 'AUTH_REQUIRED');
    });
  });

  describe('createServer, the plugins together (fake classifier)', () => {
    const fakeClassifier = {
      info: { name: 'fake', engine: 'fake', input: { width: 2, height: 2, channels: 3 }, classes: 2 },
    } as unknown as Classifier;

    test('never logs a key, right or wrong, whichever header carries it', async (t) => {
      const recorded = recordingLogger();
      const { logger } = recorded;
      const server = await createServer({
        config: loadConfig({ API_KEYS: KEY }),
        logger,
        retrieve: async () => [],
        classifier: () => fakeClassifier,
      });
      t.after(() => server.close());
      for (const headers of [
        { authorization: `Bearer ${KEY}` },
        { 'x-api-key': KEY },
        { authorization: `Bearer ${WRONG_KEY}` },
        { 'x-api-key': WRONG_KEY },
      ]) {
        await server.app.inject({ method: 'GET', url: '/v1/models', headers });
        await server.app.inject({ method: 'GET', url: '/v1/nope', headers });
        await server.app.inject({ method: 'POST', url: '/v1/predict', headers, payload: '{' });
      }
      const lines = recorded.lines.map(lineText);
      assert.equal(lines.length, 12, 'one line per request');
      assert.ok(lines.some((line) => line.includes('AUTH_INVALID')));
      for (const line of lines) {
        assert.ok(!line.includes(KEY) && !line.includes(WRONG_KEY), `a key in the log: ${line}`);
        assert.doesNotMatch(line, /authorization|x-api-key/i, `headers in the log: ${line}`);
      }
    });

    test('documents the keys in OpenAPI: both schemes, optional security and 401 on /v1 routes only', async (t) => {
      const server = await createServer({
        config: loadConfig({}),
        logger: recordingLogger().logger,
        retrieve: async () => [],
        classifier: () => fakeClassifier,
      });
      t.after(() => server.close());
      const document = (await server.app.inject({ method: 'GET', url: '/openapi.json' })).json();
      assert.deepEqual(document.components.securitySchemes.bearerAuth, {
        type: 'http',
        scheme: 'bearer',
        description: document.components.securitySchemes.bearerAuth.description,
      });
      assert.deepEqual(
        { ...document.components.securitySchemes.apiKey, description: undefined },
        { type: 'apiKey', in: 'header', name: 'x-api-key', description: undefined },
      );
      for (const operation of [document.paths['/v1/models'].get, document.paths['/v1/predict'].post]) {
        assert.deepEqual(operation.security, [{}, { bearerAuth: [] }, { apiKey: [] }]);
        assert.equal(operation.responses['401'].content['application/json'].schema.title, 'Error');
      }
      for (const operation of [document.paths['/health'].get, document.paths['/health/ready'].get]) {
        assert.equal(operation.security, undefined);
        assert.equal(operation.responses['401'], undefined);
      }
      assert.equal(document.security, undefined, 'no document-wide requirement');
    });
  });

  describe('the real server with keys (API_KEYS and API_KEYS_FILE)', () => {
    let app: RunningApp;
    let catBase64: string;
    before(async () => {
      const file = await keysFile('server-keys.txt', `# keys for the test\n${FILE_KEY}\n`);
      app = await startApp({ env: { API_KEYS: `${KEY},${OTHER_KEY}`, API_KEYS_FILE: file } });
      catBase64 = (await readFixture('cat.bmp')).toString('base64');
    });
    after(() => app?.close());

    const predict = (headers: Record<string, string>) =>
      fetch(`${app.baseUrl}/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ images: [{ data: catBase64 }] }),
      });

    test('no key: 401 AUTH_REQUIRED with WWW-Authenticate, in the API error shape and headers', async () => {
      for (const response of [await predict({}), await fetch(`${app.baseUrl}/v1/models`)]) {
        assert.equal(response.status, 401);
        assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="image-classifier"');
        assert.equal(response.headers.get('cache-control'), 'no-store');
        assert.ok(response.headers.get('x-request-id'));
        assert.equal(((await response.json()) as { code: string }).code, 'AUTH_REQUIRED');
      }
    });

    test('a wrong key: 401 AUTH_INVALID', async () => {
      const response = await predict({ authorization: `Bearer ${WRONG_KEY}` });
      assert.equal(response.status, 401);
      assert.equal(response.headers.get('www-authenticate'), AUTH_INVALID_CHALLENGE);
      assert.deepEqual(await response.json(), { code: 'AUTH_INVALID', message: 'The API key is not valid.' });
    });

    test('a right key, from either variable, as a bearer token or in x-api-key: 200', async () => {
      const keyed: Array<Record<string, string>> = [
        { authorization: `Bearer ${KEY}` },
        { 'x-api-key': OTHER_KEY },
        { authorization: `Bearer ${FILE_KEY}` },
      ];
      for (const headers of keyed) {
        const response = await predict(headers);
        assert.equal(response.status, 200, JSON.stringify(headers));
        const body = (await response.json()) as { images: Array<{ category: string }> };
        assert.ok(expected['cat.bmp']!.acceptable_top1_wnids.includes(body.images[0]!.category));
      }
      const models = await fetch(`${app.baseUrl}/v1/models`, { headers: { 'x-api-key': FILE_KEY } });
      assert.equal(models.status, 200);
    });

    test('health, readiness, the docs, the OpenAPI document and the demo page stay open', async () => {
      for (const url of [
        '/health',
        '/health/ready',
        '/docs',
        '/docs/static/index.html',
        '/openapi.json',
        '/',
        '/demo/demo.js',
      ]) {
        const response = await fetch(`${app.baseUrl}${url}`);
        assert.equal(response.status, 200, url);
        await response.arrayBuffer();
      }
    });

    test('an unknown route under /v1 is 401 without a key, 404 with one; elsewhere 404', async () => {
      assert.equal((await fetch(`${app.baseUrl}/v1/secret-route`)).status, 401);
      const withKey = await fetch(`${app.baseUrl}/v1/secret-route`, { headers: { 'x-api-key': KEY } });
      assert.equal(withKey.status, 404);
      assert.equal((await fetch(`${app.baseUrl}/elsewhere`)).status, 404);
    });
  });

  describe('the real server without keys', () => {
    let app: RunningApp;
    before(async () => {
      app = await startApp();
    });
    after(() => app?.close());

    test('every route is open as before, and a key sent anyway changes nothing', async () => {
      for (const headers of [{}, { authorization: `Bearer ${WRONG_KEY}` }] as Array<Record<string, string>>) {
        const response = await fetch(`${app.baseUrl}/v1/models`, { headers });
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('www-authenticate'), null);
        await response.arrayBuffer();
      }
      assert.equal((await fetch(`${app.baseUrl}/v1/nope`)).status, 404);
    });
  });

  describe('the server process (lib/main.ts)', () => {
    /** Starts lib/main.ts with `env`, expecting it to refuse; its exit code and output. */
    async function refusedStart(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
      const child = spawn(process.execPath, ['--import', 'tsx', 'lib/main.ts'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      const [code] = await once(child, 'close');
      return { code, output };
    }

    test('refuses to start with a short key (exit 2), naming API_KEYS but not the key', async () => {
      const short = 'tiny-key-abc';
      const { code, output } = await refusedStart({ API_KEYS: `${KEY},${short}` });
      assert.equal(code, 2);
      assert.match(output, /Invalid configuration: API_KEYS: key 2 of 2 is 12 characters long/);
      assert.ok(!output.includes(short) && !output.includes(KEY), output);
      assert.doesNotMatch(output, /Listening/);
    });

    test('refuses to start with a missing API_KEYS_FILE (exit 2)', async () => {
      const missing = path.join(scratch, 'nowhere', 'keys.txt');
      const { code, output } = await refusedStart({ API_KEYS_FILE: missing });
      assert.equal(code, 2);
      assert.match(output, new RegExp(`API_KEYS_FILE ${missing} could not be read: no such file`));
    });

    test('logs no key at DEBUG level: right and wrong keys, in either header, on routes known and not', async () => {
      const server = await spawnServer({ API_KEYS: KEY, LOG_LEVEL: 'DEBUG', WORKERS: '1' });
      try {
        await waitUntilReady(server.baseUrl);
        const cat = (await readFixture('cat.bmp')).toString('base64');
        const statuses: number[] = [];
        const keyed: Array<Record<string, string>> = [
          { authorization: `Bearer ${KEY}` },
          { 'x-api-key': KEY },
          { 'x-api-key': WRONG_KEY },
        ];
        for (const headers of keyed) {
          for (const [method, url, body] of [
            ['POST', '/v1/predict', JSON.stringify({ images: [{ data: cat }] })],
            ['GET', '/v1/models', undefined],
            ['GET', `/v1/nope?key=${KEY}`, undefined],
          ] as const) {
            const response = await fetch(`${server.baseUrl}${url}`, {
              method,
              headers: { ...headers, ...(body && { 'content-type': 'application/json' }) },
              body,
            });
            statuses.push(response.status);
            await response.arrayBuffer();
          }
        }
        assert.deepEqual(statuses, [200, 200, 404, 200, 200, 404, 401, 401, 401]);
      } finally {
        server.child.kill('SIGTERM');
        await server.exited;
      }
      const text = server.logs.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n');
      assert.ok(
        server.logs.filter((line) => (line as { message?: string }).message === 'Request completed').length >= 9,
      );
      assert.ok(text.includes('AUTH_INVALID'), 'the refusals are logged, by code');
      assert.ok(!text.includes(KEY), 'the right key is in the logs');
      assert.ok(!text.includes(WRONG_KEY), 'a wrong key is in the logs');
      assert.doesNotMatch(text, /authorization|x-api-key/i, 'headers are in the logs');
    });
  });
});

/**
 * The demo page at GET / in real headless Chromium, against the real server and model: uploads and
 * their top-5 bars, errors in plain words, keyboard use, the link to Swagger UI, and a page that
 * loads nothing from other origins and logs no console errors or CSP violations.
 *
 * Needs Chromium (CHROMIUM_PATH, default /usr/bin/chromium); without it the tests are skipped, or
 * fail when REQUIRE_BROWSER is set. No browser is ever downloaded.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { type Browser, type BrowserContext, type Locator, type Page, chromium } from 'playwright-core';
import { type RunningApp, startApp } from '../helpers/app.ts';
import { FIXTURES_DIR, expected, readFixture } from '../helpers/fixtures.ts';

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The service and Debian's Chromium, started side by side; whichever fails first is thrown, after both settle. */
async function startAppAndChromium(
  env: Record<string, string> = {},
): Promise<{ app: RunningApp | undefined; browser: Browser | undefined }> {
  const [started, launched] = await Promise.allSettled([
    startApp({ env }),
    chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    }),
  ]);
  const app = started.status === 'fulfilled' ? started.value : undefined;
  const browser = launched.status === 'fulfilled' ? launched.value : undefined;
  if (started.status === 'rejected') {
    await browser?.close();
    throw started.reason;
  }
  if (launched.status === 'rejected') {
    await app?.close();
    throw launched.reason;
  }
  return { app, browser };
}
const REPO_DIR = path.join(FIXTURES_DIR, '..', '..');
const SCREENSHOT = path.join(REPO_DIR, 'test-results', 'demo-page.png');
const DOCS_SCREENSHOT = path.join(REPO_DIR, 'docs', 'demo-page.png');
const SCREENSHOT_FILES = ['parrot.jpg', 'hot_dog.jpg', 'grace_hopper.bmp'];

const skip =
  !existsSync(CHROMIUM_PATH) && !process.env.REQUIRE_BROWSER
    ? `Chromium not found at ${CHROMIUM_PATH}: set CHROMIUM_PATH to run the browser tests ` +
      '(or REQUIRE_BROWSER=1 to make this a failure)'
    : false;

/** Class names as the page shows them: `Egyptian_cat` reads "Egyptian cat". */
const shown = (name: string) => name.replace(/_/g, ' ');
const expectedTop1 = (file: string) => shown(expected[file]!.top1.name);

/** What a page did that it should not have: console errors, uncaught errors, CSP violations, foreign requests. */
interface Findings {
  problems: string[];
  foreignRequests: string[];
  requests: string[];
}

const newFindings = (): Findings => ({ problems: [], foreignRequests: [], requests: [] });

describe('demo page in Chromium', { skip }, () => {
  let app: RunningApp | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let origin: string;
  /** Collected across every test's pages, checked by the last tests. */
  const findings = newFindings();

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM_PATH),
      `REQUIRE_BROWSER is set but there is no Chromium at ${CHROMIUM_PATH} (set CHROMIUM_PATH)`,
    );
    ({ app, browser } = await startAppAndChromium());
    origin = new URL(app!.baseUrl).origin;
    // Reduced motion: the bars are measured at their final width, without the grow animation.
    context = await browser!.newContext({
      viewport: { width: 1280, height: 800 },
      colorScheme: 'light',
      reducedMotion: 'reduce',
    });
    // Chromium logs CSP violations to the console; this says so too, in case a message format changes.
    // (Code that runs in the page is written as strings: this project's TypeScript has no DOM types.)
    await context.addInitScript(`document.addEventListener('securitypolicyviolation', (event) =>
      console.error('CSP violation: ' + event.violatedDirective + ' blocked ' + (event.blockedURI || 'inline')));`);
  });

  /** Pages of the running test, closed after it whether it passed or not. */
  const openPages: Page[] = [];
  afterEach(async () => {
    await Promise.all(openPages.splice(0).map((page) => page.close()));
  });

  after(async () => {
    await browser?.close();
    await app?.close();
  });

  /** Records what the page does into `sink`. */
  function watch(page: Page, sink: Findings): void {
    page.on('request', (request) => {
      const url = request.url();
      sink.requests.push(`${request.method()} ${url}`);
      // blob: URLs carry their creator's origin; data: URLs go nowhere.
      if (!url.startsWith('data:') && new URL(url).origin !== origin) sink.foreignRequests.push(url);
    });
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      // Chromium logs every fetch() answered with an error status. The 400s of rejected images are
      // answers the tests ask for (and the page shows); any other failed load is a problem.
      const expectedRejection =
        /status of 400\b/.test(message.text()) && message.location().url === `${origin}/v1/predict`;
      if (!expectedRejection) sink.problems.push(`console error on ${page.url()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => sink.problems.push(`uncaught error on ${page.url()}: ${error.message}`));
  }

  async function openDemo(sink = findings): Promise<Page> {
    const page = await context.newPage();
    openPages.push(page);
    watch(page, sink);
    const response = await page.goto(`${app!.baseUrl}/`);
    assert.equal(response?.status(), 200);
    // The footer names the model once the page's script has run and asked the API.
    await page.locator('#model-info', { hasText: /engine: \w+/ }).waitFor();
    return page;
  }

  const focusedId = async (page: Page) => (await page.evaluate('document.activeElement?.id')) as string | undefined;
  const cards = (page: Page) => page.locator('#results > li.card');
  const fileInput = (page: Page) => page.getByLabel('Image files', { exact: true });

  /** Waits for a finished request: cards shown, or an error. */
  async function settled(page: Page): Promise<void> {
    await page.locator('#results[aria-busy="false"] > li.card, #alert .alert').first().waitFor();
    await page.locator('#results[aria-busy="false"]').waitFor({ state: 'attached' });
  }

  async function rows(card: Locator) {
    const items = card.locator('.prediction');
    return Promise.all(
      (await items.all()).map(async (row) => ({
        label: (await row.locator('.label').textContent()) ?? '',
        rawName: await row.getAttribute('data-name'),
        title: await row.locator('.label').getAttribute('title'),
        percent: (await row.locator('.pct').textContent()) ?? '',
        bar: (await row.locator('.bar').boundingBox())!,
        track: (await row.locator('.track').boundingBox())!,
      })),
    );
  }

  test('classifies an uploaded image: top-5 classes with bars as wide as their probabilities', async () => {
    const page = await openDemo();
    const predictRequest = page.waitForRequest(`${origin}/v1/predict`);
    await fileInput(page).setInputFiles(path.join(FIXTURES_DIR, 'cat.bmp'));
    const sent = (await predictRequest).postDataJSON();
    assert.deepEqual(
      sent,
      { images: [{ data: (await readFixture('cat.bmp')).toString('base64') }], top_k: 5 },
      'the file is sent as plain base64, with top_k 5',
    );
    await settled(page);

    assert.equal(await cards(page).count(), 1);
    const card = cards(page).first();
    assert.equal(await card.getByRole('heading', { level: 3 }).textContent(), 'cat.bmp');
    assert.match((await card.locator('img').getAttribute('src')) ?? '', /^blob:/, 'the thumbnail is the file itself');
    const shownRows = await rows(card);
    assert.equal(shownRows.length, 5);
    const [top] = shownRows;
    assert.equal(top!.label, expectedTop1('cat.bmp'));
    assert.equal(top!.rawName, expected['cat.bmp']!.top1.name, 'the raw class name stays available');
    assert.match(top!.title ?? '', /Egyptian_cat/);
    for (const row of shownRows) {
      assert.match(row.percent, /^\d{1,3}\.\d%$/, `${row.label}: "${row.percent}"`);
      const barPercent = (row.bar.width / row.track.width) * 100;
      assert.ok(
        Math.abs(barPercent - Number.parseFloat(row.percent)) <= 1.5,
        `${row.label}: bar is ${barPercent.toFixed(1)}% of its track, text says ${row.percent}`,
      );
    }
    const percents = shownRows.map((row) => Number.parseFloat(row.percent));
    assert.deepEqual(
      percents,
      [...percents].sort((a, b) => b - a),
      'most probable first',
    );
    assert.ok(Math.abs(percents[0]! - expected['cat.bmp']!.top1.prob * 100) <= 2, `top-1 shows ${percents[0]}%`);
    assert.match((await page.getByRole('status').textContent()) ?? '', /Classified 1 image\./);
  });

  test('classifies several files in one request, one card per file in the order chosen', async () => {
    const page = await openDemo();
    const predictRequests: string[] = [];
    page.on('request', (request) => request.url().endsWith('/v1/predict') && predictRequests.push(request.url()));
    await fileInput(page).setInputFiles(SCREENSHOT_FILES.map((file) => path.join(FIXTURES_DIR, file)));
    await settled(page);

    assert.equal(predictRequests.length, 1, 'all files go in one request');
    assert.equal(await cards(page).count(), SCREENSHOT_FILES.length);
    for (const [i, file] of SCREENSHOT_FILES.entries()) {
      const card = cards(page).nth(i);
      assert.equal(await card.getByRole('heading', { level: 3 }).textContent(), file);
      assert.equal(await card.locator('.prediction .label').first().textContent(), expectedTop1(file), file);
      assert.equal(await card.locator('.prediction').count(), 5, file);
    }
    assert.match((await page.getByRole('status').textContent()) ?? '', /Classified 3 images\./);

    // The picture for the README: thumbnails decoded, then the whole page.
    await page.waitForFunction(
      `Array.from(document.querySelectorAll('#results img')).every((img) => img.complete && img.naturalWidth > 0)`,
    );
    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await mkdir(path.dirname(DOCS_SCREENSHOT), { recursive: true });
    await copyFile(SCREENSHOT, DOCS_SCREENSHOT);
  });

  test('names a file that is not an image and says so in plain words', async () => {
    const page = await openDemo();
    await fileInput(page).setInputFiles([
      { name: 'cat.bmp', mimeType: 'image/bmp', buffer: await readFixture('cat.bmp') },
      { name: 'broken.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('These bytes are a note, not a picture.\n') },
    ]);
    await settled(page);

    const alert = (await page.getByRole('alert').innerText()).replace(/\s+/g, ' ');
    assert.match(alert, /broken\.jpg: The bytes are not an image\./);
    assert.doesNotMatch(alert, /cat\.bmp:/, 'only the failing file is blamed');
    assert.doesNotMatch(alert, /IMAGE_UNRECOGNIZED|IMAGES_REJECTED|\{/, 'no codes or JSON');
    assert.equal(await cards(page).count(), 2);
    assert.match((await cards(page).nth(1).innerText()).replace(/\s+/g, ' '), /broken\.jpg.*not an image/);
    assert.equal(
      await cards(page).nth(0).locator('.prediction').count(),
      0,
      'the other image is not shown as classified',
    );
  });

  test('explains why a URL was refused, and checks the field before sending', async () => {
    const page = await openDemo();
    const urlField = page.getByLabel('Image URL', { exact: true });
    const predictRequests: string[] = [];
    page.on('request', (request) => request.url().endsWith('/v1/predict') && predictRequests.push(request.url()));

    await urlField.fill('not a web address');
    await urlField.press('Enter');
    await page.locator('#alert .alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /not a web address.*http:\/\/ or https:\/\//s);
    assert.equal(await urlField.getAttribute('aria-invalid'), 'true');
    assert.equal(predictRequests.length, 0, 'nothing is sent for an invalid URL');

    // A loopback address (port 1, where nothing listens) in place of the cloud metadata address, so the
    // URL names no address off this machine: the server's address policy refuses it without any download.
    const url = 'http://127.0.0.1:1/latest/meta-data/cat.jpg';
    await urlField.fill(url);
    await page.getByRole('button', { name: 'Classify' }).click();
    await page.locator('#alert .alert', { hasText: url }).waitFor();
    const alert = (await page.getByRole('alert').innerText()).replace(/\s+/g, ' ');
    assert.match(alert, new RegExp(`${url.replace(/[.]/g, '\\.')}: The URL points to an address that is not allowed`));
    assert.equal(predictRequests.length, 1);
    assert.equal(await cards(page).count(), 1);
    assert.equal(
      await cards(page).first().locator('img').count(),
      0,
      'no <img> for an external URL (the CSP would block it)',
    );
  });

  test('shows a busy state and sends one request however often Classify is pressed', async () => {
    const page = await openDemo();
    let predictRequests = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // The real server answers; the request is only held back until the busy state has been checked.
    await page.route(`${origin}/v1/predict`, async (route) => {
      predictRequests += 1;
      await held;
      await route.continue();
    });
    const urlField = page.getByLabel('Image URL', { exact: true });
    const button = page.getByRole('button', { name: /Classify/ });
    await urlField.fill('http://127.0.0.1:1/busy.jpg'); // refused by the address policy, like any loopback URL
    await urlField.press('Enter');
    await page.locator('#results[aria-busy="true"]').waitFor({ state: 'attached' });
    assert.equal(await button.getAttribute('aria-disabled'), 'true');
    assert.match((await button.textContent()) ?? '', /Classifying/);
    assert.equal(await page.locator('#dropzone').getAttribute('aria-disabled'), 'true');
    assert.equal(await fileInput(page).isDisabled(), true);
    await urlField.press('Enter');
    await button.click({ force: true });
    await page.waitForTimeout(100);
    release();
    await settled(page);
    assert.equal(predictRequests, 1, 'a second submit while busy sends nothing');
    assert.equal(await button.getAttribute('aria-disabled'), 'false');
    assert.equal(await fileInput(page).isDisabled(), false);
  });

  test('can be used with the keyboard: a focusable, named drop zone that opens the file picker', async () => {
    const page = await openDemo();
    // Labelled controls.
    const files = fileInput(page);
    assert.equal(await files.getAttribute('type'), 'file');
    assert.equal(await files.getAttribute('multiple'), '');
    assert.equal(await files.getAttribute('accept'), 'image/*');
    assert.equal(await page.getByLabel('Image URL', { exact: true }).getAttribute('type'), 'url');

    // Listening from the start turns Playwright's file chooser interception on before any key is pressed.
    page.on('filechooser', () => {});

    // Tab reaches the drop zone.
    let tabs = 0;
    while ((await focusedId(page)) !== 'dropzone' && tabs < 10) {
      await page.keyboard.press('Tab');
      tabs += 1;
    }
    const dropzone = page.getByRole('button', { name: 'Drop images here or choose files' });
    assert.equal(
      await dropzone.evaluate((element) => element === element.ownerDocument.activeElement),
      true,
      `Tab did not reach the drop zone (${tabs} presses)`,
    );
    const [outlineStyle, outlineWidth] = await dropzone.evaluate((element) => {
      const style = element.ownerDocument.defaultView!.getComputedStyle(element);
      return [style.outlineStyle, style.outlineWidth];
    });
    assert.notEqual(outlineStyle, 'none', 'a visible focus ring');
    assert.ok(Number.parseFloat(outlineWidth ?? '0') >= 2, `focus ring of ${outlineWidth}`);

    // Space and Enter open the file picker; choosing a file from it classifies the file.
    for (const key of ['Space', 'Enter']) {
      const chooserOpened = page.waitForEvent('filechooser', { timeout: 2000 });
      await page.keyboard.press(key);
      const chooser = await chooserOpened;
      assert.equal(chooser.isMultiple(), true, key);
      // Choosing nothing closes the picker (Chromium opens one picker at a time).
      await chooser.setFiles(key === 'Enter' ? path.join(FIXTURES_DIR, 'bird.bmp') : []);
    }
    await settled(page);
    assert.equal(
      await cards(page).first().locator('.prediction .label').first().textContent(),
      expectedTop1('bird.bmp'),
    );

    // Then on to the URL field and its button.
    await dropzone.focus();
    await page.keyboard.press('Tab');
    assert.equal(await focusedId(page), 'url-input');
    await page.keyboard.press('Tab');
    assert.equal(await focusedId(page), 'classify-button');
  });

  test('links to /docs, where Swagger UI renders under its own CSP and shows POST /v1/predict', async () => {
    const page = await openDemo();
    const link = page.getByRole('link', { name: 'API docs', exact: true });
    assert.equal(await link.getAttribute('href'), '/docs');
    const [response] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/docs'),
      link.click(),
    ]);
    assert.ok(response.ok(), `${response.url()} answered ${response.status()}`);
    await page.getByText('/v1/predict', { exact: true }).first().waitFor({ timeout: 10_000 });
    assert.equal(
      await page.locator('.opblock-post').filter({ hasText: '/v1/predict' }).count(),
      1,
      'POST /v1/predict is listed',
    );
    await page.waitForLoadState('networkidle');
    const csp = response.headers()['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'self'/, `/docs has its own policy: ${csp}`);
    const docsProblems = findings.problems.filter(
      (problem) =>
        problem.startsWith(`console error on ${origin}/docs`) || problem.startsWith(`uncaught error on ${origin}/docs`),
    );
    assert.deepEqual(docsProblems, [], 'console errors or CSP violations on /docs');
  });

  test('loads nothing from other origins and logs no console errors or CSP violations', async () => {
    // The watcher does catch a violation: an inline style, which the page's CSP refuses.
    const selfCheck = newFindings();
    const probe = await openDemo(selfCheck);
    await probe.evaluate(`document.body.setAttribute('style', 'background: red')`);
    await probe.evaluate(() => new Promise((resolve) => setTimeout(resolve, 50)));
    assert.ok(
      selfCheck.problems.some((problem) => /style/i.test(problem)),
      `the CSP violation went unnoticed: ${JSON.stringify(selfCheck.problems)}`,
    );

    // Everything the tests above loaded, /docs included.
    const paths = new Set(
      findings.requests
        .map((request) => request.replace(/^\w+ /, ''))
        .filter((url) => url.startsWith(origin))
        .map((url) => new URL(url).pathname),
    );
    for (const expectedPath of [
      '/',
      '/demo/demo.js',
      '/demo/demo.css',
      '/v1/models',
      '/v1/predict',
      '/docs',
      '/docs/json',
    ]) {
      assert.ok(paths.has(expectedPath), `no request for ${expectedPath} was seen: ${[...paths].join(', ')}`);
    }
    assert.deepEqual(findings.foreignRequests, [], 'requests to other origins');
    assert.deepEqual(findings.problems, [], 'console errors, uncaught errors or CSP violations');
  });
});

describe('demo page in Chromium, against a server with API keys', { skip }, () => {
  const KEY = 'demo-page-key-0123456789';
  let app: RunningApp | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let origin: string;
  const problems: string[] = [];

  before(async () => {
    ({ app, browser } = await startAppAndChromium({ API_KEYS: KEY }));
    origin = new URL(app!.baseUrl).origin;
    context = await browser!.newContext({ viewport: { width: 1280, height: 800 }, reducedMotion: 'reduce' });
    await context.addInitScript(`document.addEventListener('securitypolicyviolation', (event) =>
      console.error('CSP violation: ' + event.violatedDirective + ' blocked ' + (event.blockedURI || 'inline')));`);
  });

  after(async () => {
    await browser?.close();
    await app?.close();
  });

  /** A new tab (so an empty sessionStorage) on the demo page; its problems go to `problems`. */
  async function openDemo(): Promise<Page> {
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      // Chromium logs each 401 of the API; the page asks for a key on them, as tested here.
      const expected401 = /status of 401\b/.test(message.text()) && message.location().url.startsWith(`${origin}/v1/`);
      if (!expected401) problems.push(`console error on ${page.url()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`uncaught error on ${page.url()}: ${error.message}`));
    page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith('data:') && !url.startsWith('blob:') && new URL(url).origin !== origin)
        problems.push(`request to another origin: ${url}`);
    });
    await page.goto(`${app!.baseUrl}/`);
    // The footer asks the API for the model without a key, gets 401 and says what it waits for.
    await page.locator('#model-info', { hasText: 'Model: shown once you enter an API key.' }).waitFor();
    return page;
  }

  const activeId = async (page: Page) => (await page.evaluate('document.activeElement?.id')) as string | undefined;

  test('asks for a key on 401, again when it is wrong, then classifies; the key in sessionStorage', async () => {
    const page = await openDemo();
    const dialog = page.getByRole('dialog', { name: 'API key needed' });
    assert.equal(await dialog.isVisible(), false, 'no dialog before the API asks for a key');
    const predictAuthorizations: Array<string | undefined> = [];
    page.on('request', (request) => {
      if (request.url() === `${origin}/v1/predict`) predictAuthorizations.push(request.headers().authorization);
    });

    await page.getByLabel('Image files', { exact: true }).setInputFiles(path.join(FIXTURES_DIR, 'cat.bmp'));
    await dialog.waitFor();
    assert.equal(await activeId(page), 'key-input', 'the key field has the focus');
    assert.equal(await page.getByLabel('API key', { exact: true }).getAttribute('type'), 'password');

    // A wrong key, typed and sent with Enter: the service refuses it and the dialog says so.
    await page.keyboard.type('not-the-right-key-000');
    await page.keyboard.press('Enter');
    await page.locator('#key-error', { hasText: 'The API key is not valid.' }).waitFor();
    assert.equal(await dialog.isVisible(), true, 'asked again');
    assert.equal(await activeId(page), 'key-input');
    assert.equal(await page.getByLabel('API key', { exact: true }).getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByLabel('API key', { exact: true }).inputValue(), '', 'the wrong key is cleared');

    await page.keyboard.type(KEY);
    await page.keyboard.press('Enter');
    const card = page.locator('#results > li.card').first();
    await card.waitFor();
    assert.equal(await dialog.isVisible(), false);
    assert.equal(await card.locator('.prediction .label').first().textContent(), expectedTop1('cat.bmp'));
    assert.deepEqual(predictAuthorizations, [undefined, 'Bearer not-the-right-key-000', `Bearer ${KEY}`]);
    assert.equal(await page.locator('#alert .alert').count(), 0, 'no error left on show');

    // The key stays with the tab only.
    assert.equal(await page.evaluate(`sessionStorage.getItem('image-classifier.api-key')`), KEY);
    assert.equal(await page.evaluate('localStorage.length'), 0);
    assert.equal(await page.evaluate(`document.cookie`), '');
    // The footer shows the model now that there is a key, and a reload of the tab keeps the key.
    await page.locator('#model-info', { hasText: /engine: \w+/ }).waitFor();
    await page.reload();
    await page.locator('#model-info', { hasText: /engine: \w+/ }).waitFor();
    assert.equal(await dialog.isVisible(), false);
    await page.close();
  });

  test('Escape closes the dialog: nothing is classified and the page says a key is needed', async () => {
    const page = await openDemo();
    await page.getByLabel('Image files', { exact: true }).setInputFiles(path.join(FIXTURES_DIR, 'cat.bmp'));
    await page.getByRole('dialog', { name: 'API key needed' }).waitFor();
    await page.keyboard.press('Escape');
    await page.locator('#alert .alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /This service needs an API key\./);
    assert.equal(await page.locator('#results > li.card').count(), 0);
    assert.equal(await page.evaluate(`sessionStorage.length`), 0, 'nothing stored');

    // An empty key is refused in the dialog, without a request.
    let predictRequests = 0;
    page.on('request', (request) => {
      if (request.url() === `${origin}/v1/predict`) predictRequests += 1;
    });
    await page.getByLabel('Image files', { exact: true }).setInputFiles(path.join(FIXTURES_DIR, 'cat.bmp'));
    await page.getByRole('dialog', { name: 'API key needed' }).waitFor();
    await page.getByRole('button', { name: 'Use key' }).click();
    await page.locator('#key-error', { hasText: 'Enter the API key.' }).waitFor();
    assert.equal(predictRequests, 1, 'only the first, refused request');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.locator('#alert .alert').waitFor();
    await page.close();
  });

  test('loads nothing from other origins and logs no console errors or CSP violations', () => {
    assert.deepEqual(problems, []);
  });
});

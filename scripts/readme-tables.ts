/**
 * README's configuration and error tables, generated from CONFIG_SCHEMA and the error code tables
 * so the documentation cannot drift: `npm run docs` rewrites them, and a test fails when they differ.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { CONFIG_SCHEMA, type SettingName } from '../lib/config.ts';
import { ENTRY_ERRORS, REQUEST_ERRORS } from '../lib/errors.ts';
import { MAX_TOP_K, MAX_URL_LENGTH } from '../lib/schemas.ts';

export const README = fileURLToPath(new URL('../README.md', import.meta.url));

const formatDefault = (value: unknown) =>
  typeof value === 'number' && value >= 10_000 ? value.toLocaleString('en-US').replace(/,/g, '_') : String(value);

/** A default in a table cell: in code, or the word `empty` (an empty code span would show its backticks). */
const shownDefault = (value: unknown) => (value === '' ? 'empty' : `\`${formatDefault(value)}\``);

/** Message text in a table cell: `<key>` would otherwise be taken for an HTML tag and vanish. */
const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function configTable(): string {
  const rows = Object.entries(CONFIG_SCHEMA).map(
    ([name, setting]) => `| \`${name}\` | ${shownDefault(setting.default)} | ${setting.description} |`,
  );
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

export function errorTables(): string {
  const requestRows = Object.entries(REQUEST_ERRORS).map(
    ([code, { status, message }]) => `| \`${code}\` | ${status} | ${escapeHtml(message)} |`,
  );
  // `read` codes are for the files of the `classify` command line, or (`only: 'batch'`) the S3
  // objects of batch jobs: the API never reads either.
  const batchOnly = (entry: object) => 'only' in entry && entry.only === 'batch';
  const status = (stage: string, entry: object) =>
    stage === 'request' ? '422' : stage !== 'read' ? '400' : batchOnly(entry) ? 'batch jobs only' : '`classify` only';
  const readCodes = (batch: boolean) =>
    Object.entries(ENTRY_ERRORS)
      .flatMap(([code, entry]) => (entry.stage === 'read' && batchOnly(entry) === batch ? [`\`${code}\``] : []))
      .join(' and ');
  const entryRows = Object.entries(ENTRY_ERRORS).map(
    ([code, entry]) => `| \`${code}\` | ${status(entry.stage, entry)} | ${escapeHtml(entry.message)} |`,
  );
  return [
    'Top-level `code`:',
    '',
    '| Code | Status | Meaning |',
    '| --- | --- | --- |',
    ...requestRows,
    '',
    'Codes in `errors[]`, with the `index` of the image (and the `field`, for schema errors);',
    `${readCodes(false)} come from the \`classify\` command line only, and`,
    `${readCodes(true)} from batch jobs only (the API reads neither files nor S3 objects):`,
    '',
    '| Code | Status of the response | Meaning |',
    '| --- | --- | --- |',
    ...entryRows,
  ].join('\n');
}

/** Every limit: what it bounds, the setting (or the fixed value), and what going over it answers. */
const LIMITS: Array<[string, SettingName | string, string]> = [
  ['Request body', 'MAX_BODY_BYTES', '413 `REQUEST_BODY_TOO_LARGE`, from Content-Length before reading'],
  ['Time to send the whole request', 'REQUEST_TIMEOUT_MS', '408 `REQUEST_TIMEOUT`, and the connection is closed'],
  ['Request headers', "16 KiB (Node's limit)", '431 `REQUEST_HEADERS_TOO_LARGE`'],
  ['Images per request', 'MAX_IMAGES_PER_REQUEST', '422 `REQUEST_TOO_MANY_IMAGES`'],
  ['`top_k`', `1 to ${MAX_TOP_K}`, '422 `REQUEST_INVALID`'],
  ['URL length', `${MAX_URL_LENGTH} characters`, '422 `REQUEST_INVALID`'],
  ['URL schemes', 'http, https', '400 `URL_SCHEME_UNSUPPORTED`'],
  [
    'Addresses a URL may reach',
    'ALLOW_PRIVATE_URLS',
    '400 `URL_FORBIDDEN` (loopback, private, link-local, CGNAT, multicast, reserved; every redirect, at connect time)',
  ],
  ['Redirects per download', 'MAX_REDIRECTS', '400 `DOWNLOAD_TOO_MANY_REDIRECTS`'],
  ['Time per download (seconds)', 'TIMEOUT', '400 `DOWNLOAD_TIMEOUT`'],
  ['Downloads at once, per request', 'THREAD_COUNT', 'the others wait their turn'],
  [
    'Bytes per image',
    'MAX_IMAGE_BYTES',
    '400 `IMAGE_TOO_LARGE`, from Content-Length or while streaming; from the base64 length',
  ],
  ['Pixels per image', 'MAX_IMAGE_PIXELS', '400 `IMAGE_TOO_MANY_PIXELS`, from the header, before decoding'],
  [
    'Image formats',
    'JPEG, PNG, WebP, GIF, TIFF, AVIF, BMP',
    '400 `IMAGE_UNSUPPORTED_FORMAT` (SVG, HEIC, PDF, ...) or `IMAGE_UNRECOGNIZED`',
  ],
  ['Images in the server at once', 'MAX_QUEUE_IMAGES', '503 `SERVICE_OVERLOADED` with `Retry-After: 1`'],
  ['Wait for the model', 'QUEUE_TIMEOUT_MS', '503 `SERVICE_OVERLOADED` with `Retry-After: 1`'],
  ['Time one batch may run', 'INFERENCE_TIMEOUT_MS', '503 `SERVICE_INFERENCE_FAILED`; the worker is replaced'],
  ['Draining on SIGTERM/SIGINT', 'DRAIN_TIMEOUT_MS', 'the process exits with code 1 instead of 0'],
];

export function limitsTable(): string {
  const rows = LIMITS.map(([what, limit, answer]) => {
    const setting = (CONFIG_SCHEMA as Record<string, { default: unknown }>)[limit];
    const value = setting ? `\`${limit}\` = \`${formatDefault(setting.default)}\`` : limit;
    return `| ${what} | ${value} | ${answer} |`;
  });
  return ['| Limit | Setting and default | Over it |', '| --- | --- | --- |', ...rows].join('\n');
}

export const SECTIONS = {
  'config-table': configTable,
  'error-tables': errorTables,
  'limits-table': limitsTable,
} as const;

/** README with every generated section replaced by its current content. */
export function withGeneratedSections(readme: string): string {
  return Object.entries(SECTIONS).reduce((text, [name, generate]) => replaceSection(text, name, generate()), readme);
}

/** `text` with what lies between `<!-- name:start -->` and `<!-- name:end -->` replaced by `content`. */
export function replaceSection(text: string, name: string, content: string): string {
  const pattern = new RegExp(`(<!-- ${name}:start -->)[\\s\\S]*?(<!-- ${name}:end -->)`);
  if (!pattern.test(text)) throw new Error(`README.md has no ${name} markers`);
  return text.replace(pattern, (_match, start: string, end: string) => `${start}\n${content}\n${end}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await writeFile(README, withGeneratedSections(await readFile(README, 'utf8')));
}

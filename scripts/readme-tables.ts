/**
 * README's configuration and error tables, generated from CONFIG_SCHEMA and the error code tables
 * so the documentation cannot drift: `npm run docs` rewrites them, and a test fails when they differ.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { CONFIG_SCHEMA } from '../lib/config.ts';
import { ENTRY_ERRORS, REQUEST_ERRORS } from '../lib/errors.ts';

export const README = fileURLToPath(new URL('../README.md', import.meta.url));

const formatDefault = (value: unknown) => (typeof value === 'number' && value >= 10_000 ? value.toLocaleString('en-US').replace(/,/g, '_') : String(value));

export function configTable(): string {
  const rows = Object.entries(CONFIG_SCHEMA).map(([name, setting]) => `| \`${name}\` | \`${formatDefault(setting.default)}\` | ${setting.description} |`);
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

export function errorTables(): string {
  const requestRows = Object.entries(REQUEST_ERRORS).map(([code, { status, message }]) => `| \`${code}\` | ${status} | ${message} |`);
  const entryRows = Object.entries(ENTRY_ERRORS).map(([code, { stage, message }]) => `| \`${code}\` | ${stage === 'request' ? '422' : '400'} | ${message} |`);
  return [
    'Top-level `code`:',
    '',
    '| Code | Status | Meaning |',
    '| --- | --- | --- |',
    ...requestRows,
    '',
    'Codes in `errors[]`, with the `index` of the image (and the `field`, for schema errors):',
    '',
    '| Code | Status of the response | Meaning |',
    '| --- | --- | --- |',
    ...entryRows,
  ].join('\n');
}

export const SECTIONS = { 'config-table': configTable, 'error-tables': errorTables } as const;

/** README with every generated section replaced by its current content. */
export function withGeneratedSections(readme: string): string {
  let text = readme;
  for (const [name, generate] of Object.entries(SECTIONS)) {
    const pattern = new RegExp(`(<!-- ${name}:start -->)[\\s\\S]*?(<!-- ${name}:end -->)`);
    if (!pattern.test(text)) throw new Error(`README.md has no ${name} markers`);
    text = text.replace(pattern, (_match, start: string, end: string) => `${start}\n${generate()}\n${end}`);
  }
  return text;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await writeFile(README, withGeneratedSections(await readFile(README, 'utf8')));
}

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { CONFIG_SCHEMA } from '../../lib/config.ts';
import { ENTRY_ERRORS, REQUEST_ERRORS } from '../../lib/errors.ts';
import { README, withGeneratedSections } from '../../scripts/readme-tables.ts';

describe('README', () => {
  test('has the configuration and error tables generated from the code (run `npm run docs` after changing them)', async () => {
    const readme = await readFile(README, 'utf8');
    assert.equal(readme, withGeneratedSections(readme));
  });

  test('lists every setting and every error code', async () => {
    const readme = await readFile(README, 'utf8');
    for (const name of Object.keys(CONFIG_SCHEMA)) assert.match(readme, new RegExp(`\\| \`${name}\` \\|`), name);
    for (const [code, { status }] of Object.entries(REQUEST_ERRORS)) assert.match(readme, new RegExp(`\\| \`${code}\` \\| ${status} \\|`), code);
    for (const code of Object.keys(ENTRY_ERRORS)) assert.match(readme, new RegExp(`\\| \`${code}\` \\|`), code);
  });
});

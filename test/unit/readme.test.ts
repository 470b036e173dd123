import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { README, withGeneratedSections } from '../../scripts/readme-tables.ts';

describe('README', () => {
  test('has the config, error and limits tables generated from the code (`npm run docs` rebuilds them)', async () => {
    const readme = await readFile(README, 'utf8');
    assert.equal(readme, withGeneratedSections(readme));
  });
});

/** The ten reference photos and their expected predictions (test/fixtures/expected.json). */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
export const MODEL_DIR = path.join(FIXTURES_DIR, '..', '..', 'models', 'mobilenet_v2');

interface ClassProbability {
  wnid: string;
  name: string;
  prob: number;
}

export interface ExpectedImage {
  top1: ClassProbability & { index: number };
  acceptable_top1_wnids: string[];
  top5: ClassProbability[];
}

export const expected: Record<string, ExpectedImage> = JSON.parse(
  readFileSync(path.join(FIXTURES_DIR, 'expected.json'), 'utf8'),
).images;
export const fixtureNames = Object.keys(expected);

export const readFixture = (name: string): Promise<Buffer> => readFile(path.join(FIXTURES_DIR, name));

/** A fixture re-encoded as a JPEG at the model's input size, base64: a small body that still classifies. */
export async function modelSizedJpegBase64(name: string): Promise<string> {
  const { default: sharp } = await import('sharp');
  return (
    await sharp(await readFixture(name))
      .resize(224, 224)
      .jpeg()
      .toBuffer()
  ).toString('base64');
}

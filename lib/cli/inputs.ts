/**
 * The images a command line names: URLs as given, files as given, and the image files inside
 * folders, found recursively and sorted, so a run over the same folder lists in the same order.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

export type CliInput =
  | { kind: 'url'; label: string; url: string }
  | { kind: 'file'; label: string; file: string }
  | { kind: 'missing'; label: string };

/** The file name extensions taken for images, lower case: folders here, S3 prefixes in batch jobs. */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.bmp']);

export async function expandInputs(args: string[], cwd = process.cwd()): Promise<CliInput[]> {
  const inputs: CliInput[] = [];
  for (const arg of args) {
    if (/^https?:\/\//i.test(arg)) {
      inputs.push({ kind: 'url', label: arg, url: arg });
      continue;
    }
    const absolute = path.resolve(cwd, arg);
    const info = await stat(absolute).catch(() => undefined);
    if (!info) inputs.push({ kind: 'missing', label: arg });
    else if (info.isDirectory())
      for (const file of await imagesUnder(absolute))
        inputs.push({ kind: 'file', label: path.join(arg, path.relative(absolute, file)), file });
    else inputs.push({ kind: 'file', label: arg, file: absolute });
  }
  return inputs;
}

async function imagesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && IMAGE_EXTENSIONS.has(path.extname(entry.name).toLowerCase()))
    .map((entry) => path.join(entry.parentPath ?? (entry as { path?: string }).path ?? dir, entry.name))
    .sort();
}

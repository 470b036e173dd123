/**
 * Where the project's files are, whether this code runs from its sources (lib/*.ts under tsx: tests,
 * `npm run dev`) or from the bundle (dist/*.mjs: `npm start`, the images). Modules ask here instead
 * of resolving paths against their own location, which differs between the two. esbuild inlines this
 * module into each bundle, where import.meta.url is the bundle's file: dist/ and lib/ both sit one
 * level below the root.
 */
import { fileURLToPath } from 'node:url';

export const FROM_SOURCES = import.meta.url.endsWith('.ts');

const ROOT = new URL('../', import.meta.url);

/** The model the project ships, which `classify` uses from any working directory. */
export const BUNDLED_MODEL_DIR = fileURLToPath(new URL('models/mobilenet_v2', ROOT));

/** The demo page's static files. */
export const PUBLIC_DIR = new URL('public/', ROOT);

/** The inference worker's entry: TypeScript from the sources, or the bundle built beside the server. */
export const INFERENCE_WORKER = new URL(
  FROM_SOURCES ? 'lib/model/inference-worker.ts' : 'dist/inference-worker.mjs',
  ROOT,
);

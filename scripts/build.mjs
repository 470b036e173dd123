// Bundles the entry points into dist/ with esbuild, as the Docker images run them.
import { createRequire } from 'node:module';
import { build } from 'esbuild';

const { COMMON, EXTERNAL } = createRequire(import.meta.url)('../esbuild.config.cjs');

export const ENTRY_POINTS = {
  server: 'lib/main.ts',
  // Loaded by the server's worker pool from beside it (dist/inference-worker.mjs).
  'inference-worker': 'lib/model/inference-worker.ts',
  predict: 'handlers/image/predict.ts',
  health: 'handlers/health.ts',
  batch: 'handlers/image/batch.ts',
  cli: 'lib/cli/main.ts',
};

await build({
  ...COMMON,
  entryPoints: ENTRY_POINTS,
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  external: EXTERNAL,
  logLevel: 'warning',
  metafile: false,
});

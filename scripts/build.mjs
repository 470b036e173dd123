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

// The AWS SDK (@aws-sdk/*, @smithy/*) is bundled, not external, although Lambda's Node.js runtime
// provides one: the batch function's cold start measured faster bundled. Importing dist/batch.mjs's
// SDK and constructing the S3 and SQS clients, 30 fresh processes each, interleaved, 2 cores:
// median 122 ms (p90 143) bundled against 233 ms (p90 266) external on Node 22, 131 (179) against
// 278 (393) on Node 20; with the model and a first one-image chunk from moto, 905 against 1038 ms
// median. External, Node finds and compiles some 30 CommonJS files of node_modules, and keeps the
// unused import of @aws-sdk/client-cloudformation (without it, still slower: 180 ms). dist/batch.mjs
// is 3.5 MB bundled, 1.9 MB external. README, "Batch jobs on Lambda", has the rest.
await build({
  ...COMMON,
  entryPoints: ENTRY_POINTS,
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  external: EXTERNAL,
  logLevel: 'warning',
  metafile: false,
});

// Bundles the entry points into dist/ with esbuild. Native and WebAssembly packages, and packages
// that read their own files at run time, stay external: they load from node_modules as installed.
import { build } from 'esbuild';

export const EXTERNAL = [
  'sharp',
  'onnxruntime-node',
  '@tensorflow/*',
  '@fastify/swagger-ui',
];

export const ENTRY_POINTS = {
  server: 'lib/main.ts',
};

await build({
  entryPoints: ENTRY_POINTS,
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  external: EXTERNAL,
  logLevel: 'warning',
  // CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
});

// Bundling settings shared by scripts/build.mjs (dist/, what the Docker images run) and
// serverless-esbuild (`serverless invoke local`), so both bundle the same way.

/**
 * Left out of the bundles and loaded from node_modules: native and WebAssembly packages, and
 * packages that read their own files at run time.
 */
const EXTERNAL = ['sharp', '@julusian/jpeg-turbo', 'koffi', 'onnxruntime-node', '@tensorflow/*', '@fastify/swagger-ui'];

const COMMON = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  // CommonJS dependencies call require(); give the ESM bundle one.
  banner: {
    js:
      "import { createRequire as __createRequire } from 'node:module'; " +
      'const require = __createRequire(import.meta.url);',
  },
};

/** serverless-esbuild's options: `exclude` keeps the packages external without packaging them. */
module.exports = () => ({ ...COMMON, exclude: EXTERNAL, external: [] });
module.exports.EXTERNAL = EXTERNAL;
module.exports.COMMON = COMMON;

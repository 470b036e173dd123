#!/usr/bin/env node
// The `classify` command. In a checkout with dev dependencies it runs the TypeScript sources
// through tsx; in an installation without them, the bundle built into dist/. This is the one choice
// made before TypeScript can run; once running, lib/layout.ts decides every path.

async function load() {
  try {
    const { register } = await import('tsx/esm/api');
    register();
    return await import('../lib/cli/main.ts');
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    return import('../dist/cli.mjs');
  }
}

const { runCli } = await load();
process.exitCode = await runCli({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
});

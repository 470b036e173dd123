/**
 * `npm run fuzz:api`: schemathesis (property-based API testing) against the real server's
 * /openapi.json, with every check on every operation: no 5xx, responses that match the documented
 * schemas, status codes and content types. The server is the real one with the real model, except
 * that its downloader refuses every address: generated URLs must not make the fuzzer a crawler.
 *   npm run fuzz:api -- [max examples per operation, default 1000]
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../lib/config.ts';
import { createRuntime } from '../lib/runtime.ts';
import { createServer } from '../lib/http/server.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const examples = process.argv[2] ?? '1000';
const config = loadConfig({ MODEL_DIR: path.join(root, 'models/mobilenet_v2'), LOG_LEVEL: 'SILENT' });
const runtime = createRuntime(config, { downloaderDeps: { isAddressAllowed: () => false } });
await runtime.loadClassifier();
const server = await createServer(runtime);
await server.app.listen({ port: 0, host: '127.0.0.1' });
const { port } = server.app.server.address() as AddressInfo;

const venv = path.join(root, '.venv/bin/schemathesis');
const command = existsSync(venv) ? venv : 'schemathesis';
const args = [
  'run',
  `http://127.0.0.1:${port}/openapi.json`,
  '--checks',
  'all',
  '--max-examples',
  examples,
  '--seed',
  '1',
];
console.log(`$ schemathesis ${args.join(' ')}`);
const child = spawn(command, args, { cwd: root, stdio: 'inherit' });
const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));

await server.close();
await runtime.close();
process.exit(code ?? 1);

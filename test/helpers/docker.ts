/**
 * The Docker CLI, as the container tests drive it: legacy builder and host networking for every
 * build and container (this machine reaches no registry, and traffic stays on 127.0.0.1).
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './process.ts';

const run = promisify(execFile);

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, {
    env: { ...process.env, DOCKER_BUILDKIT: '0' },
    maxBuffer: 256 * 1024 * 1024,
  });
  return stdout.trim();
}

export type Target = 'beanstalk' | 'lambda';

/** Builds a target of the Dockerfile; returns the seconds it took. */
export async function buildImage(
  target: Target,
  tag: string,
  options: { context?: string; buildArgs?: Record<string, string> } = {},
): Promise<number> {
  const started = performance.now();
  const buildArgs = Object.entries(options.buildArgs ?? {}).flatMap(([name, value]) => [
    '--build-arg',
    `${name}=${value}`,
  ]);
  await docker(
    'build',
    '--network',
    'host',
    '-f',
    path.join(ROOT, 'Dockerfile'),
    '--target',
    target,
    '-t',
    tag,
    ...buildArgs,
    options.context ?? ROOT,
  );
  return (performance.now() - started) / 1000;
}

/** A copy of the build context (what .dockerignore lets through) with only `models` as its model folders. */
export async function buildContextWith(models: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'image-context-'));
  const allowed = (await readFile(path.join(ROOT, '.dockerignore'), 'utf8'))
    .split('\n')
    .filter((line) => line.startsWith('!'))
    .map((line) => line.slice(1));
  for (const entry of allowed.filter((entry) => entry !== 'models')) {
    await cp(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  }
  for (const [name, source] of Object.entries(models))
    await cp(source, path.join(dir, 'models', name), { recursive: true });
  return dir;
}

export async function imageSizeMb(tag: string): Promise<number> {
  return Math.round(Number(await docker('image', 'inspect', '--format', '{{.Size}}', tag)) / 1e6);
}

export const DEV_DEPENDENCIES = ['osls', 'playwright-core', 'typescript', 'esbuild', 'tsx', 'serverless-esbuild'];

/** The packages of `names` that are in the image's node_modules at `appDir`. */
export async function packagesIn(tag: string, appDir: string, names: string[]): Promise<string[]> {
  const exists = `[ -e "${appDir}/node_modules/$p/package.json" ]`;
  const script = `for p in ${names.join(' ')}; do ${exists} && echo "$p"; done; true`;
  const stdout = await docker('run', '--rm', '--network', 'host', '--entrypoint', 'sh', tag, '-c', script);
  return stdout.split('\n').filter(Boolean);
}

/** Starts a container in the background (host network); returns its id. */
export async function startContainer(
  tag: string,
  env: Record<string, string>,
  command: string[] = [],
): Promise<string> {
  const envArgs = Object.entries(env).flatMap(([name, value]) => ['-e', `${name}=${value}`]);
  return docker('run', '-d', '--network', 'host', ...envArgs, tag, ...command);
}

export async function removeContainer(id: string): Promise<void> {
  await docker('rm', '-f', id).catch(() => undefined);
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls `docker inspect` until `format` prints one of `values`; returns what it printed. */
export async function waitForInspect(id: string, format: string, values: string[], timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = await docker('inspect', '--format', format, id);
    if (values.includes(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${format} of ${id.slice(0, 12)} is still ${last}`);
}

export interface LambdaContainer {
  id: string;
  /** Sends the event to the Runtime Interface Emulator; resolves with what the function returned. */
  invoke(event: unknown): Promise<any>;
}

/** The Lambda image behind AWS's Runtime Interface Emulator, as AWS documents its local testing. */
export async function startLambda(
  tag: string,
  command: string[] = [],
  env: Record<string, string> = {},
): Promise<LambdaContainer> {
  const [port, runtimePort] = [await freePort(), await freePort()];
  const id = await startContainer(
    tag,
    {
      AWS_LAMBDA_RIE_HOST: '127.0.0.1',
      AWS_LAMBDA_RIE_PORT: String(port),
      AWS_LAMBDA_RUNTIME_API_PORT: String(runtimePort),
      ...env,
    },
    command,
  );
  const url = `http://127.0.0.1:${port}/2015-03-31/functions/function/invocations`;
  const invoke = async (event: unknown) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      // The emulator listens a moment after the container starts.
      const response = await fetch(url, { method: 'POST', body: JSON.stringify(event) }).catch((error: Error) => {
        if (Date.now() > deadline) throw error;
      });
      if (response) return response.json();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  return { id, invoke };
}

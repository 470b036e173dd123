/**
 * moto's server, an emulator of S3, SQS and CloudFormation, on 127.0.0.1 at a free port, for the
 * batch tests: nothing reaches AWS. moto_server comes from the repository's .venv (.ci/run installs
 * it from .ci/requirements.txt), else /tmp/motovenv (a developer's), else PATH.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { ClientOverrides } from '../../lib/batch/aws-clients.ts';
import { ROOT } from './process.ts';

export interface Moto {
  endpoint: string;
  /** What the clients under test take instead of the SDK's environment. */
  clients: Required<Pick<ClientOverrides, 'endpoint' | 'region' | 'credentials'>>;
  /** The same for a child process: its AWS_* variables, S3 by path. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export const MOTO_REGION = 'us-east-1';

/** The moto_server to run, or undefined when there is none. */
export function findMotoServer(): string | undefined {
  const candidates = [path.join(ROOT, '.venv', 'bin', 'moto_server'), '/tmp/motovenv/bin/moto_server'];
  const found = candidates.find((file) => existsSync(file));
  if (found) return found;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const file = path.join(dir, 'moto_server');
    if (dir && existsSync(file)) return file;
  }
  return undefined;
}

/** Starts moto_server on 127.0.0.1, port 0 (it prints the one it got), and waits until it answers. */
export async function startMoto(timeoutMs = 30_000): Promise<Moto> {
  const server = findMotoServer();
  if (!server) throw new Error('moto_server not found: pip install -r .ci/requirements.txt into .venv');
  const child = spawn(server, ['-H', '127.0.0.1', '-p', '0'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  const output: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`moto_server did not start:\n${output.join('\n')}`)), timeoutMs);
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        output.push(line);
        const match = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
    }
    exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`moto_server exited:\n${output.join('\n')}`));
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntilAnswering(endpoint, timeoutMs, child);
  const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
  return {
    endpoint,
    clients: { endpoint, region: MOTO_REGION, credentials },
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: MOTO_REGION,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      // No profile files of the machine's: only these variables.
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      S3_FORCE_PATH_STYLE: 'true',
    },
    stop: () => stopChild(child),
  };
}

async function waitUntilAnswering(endpoint: string, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && child.exitCode === null) {
    // moto's own reset endpoint answers as soon as the server serves.
    const ok = await fetch(`${endpoint}/moto-api/`).then(
      (response) => response.status < 500,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`moto_server at ${endpoint} did not answer in time`);
}

/** Stops the server this helper started, by its PID, and waits for it to exit. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  process.kill(child.pid!, 'SIGTERM');
  const timer = setTimeout(() => child.exitCode === null && process.kill(child.pid!, 'SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

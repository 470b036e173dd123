/** The server as a separate process (lib/main.ts through tsx), as `npm start` runs it. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ServerProcess {
  child: ChildProcess;
  baseUrl: string;
  /** Every line of stdout and stderr (Powertools writes warnings and errors there), parsed where it is JSON. */
  logs: unknown[];
  exited: Promise<number | null>;
}

export async function spawnServer(
  env: Record<string, string>,
  entry = ['--import', 'tsx', 'lib/main.ts'],
  cwd = ROOT,
): Promise<ServerProcess> {
  const child = spawn(process.execPath, entry, {
    cwd,
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: unknown[] = [];
  // 'close' comes after the last stdout line is read, unlike 'exit'.
  const exited = once(child, 'close').then(([code]) => code as number | null);
  const port = new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = parseJson(line);
      logs.push(entry);
      if (entry && typeof entry === 'object' && (entry as { message?: string }).message === 'Listening')
        resolve((entry as { port: number }).port);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => logs.push(parseJson(line)));
    exited.then((code) => reject(new Error(`server exited with ${code} before listening`)));
  });
  return { child, baseUrl: `http://127.0.0.1:${await port}`, logs, exited };
}

export async function waitUntilReady(baseUrl: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const status = await fetch(`${baseUrl}/health/ready`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('server not ready in time');
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return line;
  }
}

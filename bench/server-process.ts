/**
 * The built server (dist/server.mjs) in a process of its own, as the bench drives it: the
 * environment the Docker images give it, its peak RSS read from /proc, and, when asked for, the
 * event-loop probe preloaded (bench/event-loop-probe.mjs), so the product itself carries no bench code.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { peakRssMiB } from '../test/helpers/attack.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PROBE = path.join(ROOT, 'bench/event-loop-probe.mjs');

export interface EventLoopLag {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  samples: number;
}

export interface ServerUsage {
  wallMs: number;
  /** CPU time of every thread (event loop, inference workers, libuv's pool). */
  cpuMs: number;
  /** Share of the time the event loop was busy, 0 to 1. */
  eventLoopUtilization: number;
  gcMs: number;
}

export interface BenchServer {
  origin: string;
  pid: number;
  /** Peak resident set size so far (VmHWM), in MB. */
  peakRssMb(): number;
  /** The event loop's delay since the previous call (the probe's histogram is then reset). Needs the probe. */
  eventLoopLag(): Promise<EventLoopLag>;
  /** What the process used since the previous call (or its start). Needs the probe. */
  usage(): Promise<ServerUsage>;
  stop(): Promise<void>;
}

/** The server with `env` over the Docker images' environment; `probe: false` leaves the probe out. */
export async function startBenchServer(
  env: Record<string, string>,
  options: { probe?: boolean } = {},
): Promise<BenchServer> {
  const args = options.probe === false ? ['dist/server.mjs'] : ['--import', PROBE, 'dist/server.mjs'];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    // glibc's settings as the Docker images give them (see README, Performance).
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      HOST: '127.0.0.1',
      MALLOC_MMAP_THRESHOLD_: '4194304',
      MALLOC_ARENA_MAX: '2',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  const port = await new Promise<number>((resolve, reject) => {
    // The request log is read and dropped as it comes (a full pipe would stall the server); only the
    // line that names the port is parsed.
    let pending = '';
    const onData = (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const listening = pending.split('\n').find((line) => line.includes('"Listening"'));
      if (listening) {
        child.stdout!.off('data', onData).resume();
        resolve((JSON.parse(listening) as { port: number }).port);
      } else pending = pending.slice(pending.lastIndexOf('\n') + 1);
    };
    child.stdout!.on('data', onData);
    void exited.then(([code]) => reject(new Error(`server exited with ${code} before listening`)));
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitUntilReady(origin);
  return {
    origin,
    pid: child.pid!,
    peakRssMb: () => peakRss(child.pid!),
    eventLoopLag: () => ask(child, 'event-loop-lag'),
    usage: () => ask(child, 'usage'),
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Asks the probe in the server (bench/event-loop-probe.mjs) for one of its measures. */
async function ask<T>(child: ChildProcess, kind: string): Promise<T> {
  const answer = new Promise<T>((resolve) => {
    const onMessage = (message: { kind: string; value: T }) => {
      if (message.kind !== kind) return;
      child.off('message', onMessage);
      resolve(message.value);
    };
    child.on('message', onMessage);
  });
  child.send(kind);
  return answer;
}

async function waitUntilReady(origin: string): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    const status = await fetch(`${origin}/health/ready`).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status;
      },
      () => 0,
    );
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${origin} not ready within 60 s`);
}

/** Peak resident set size of a process (VmHWM), in MB; NaN once it has gone. */
function peakRss(pid: number): number {
  try {
    return peakRssMiB(pid);
  } catch {
    return Number.NaN;
  }
}

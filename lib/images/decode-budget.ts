/**
 * The process-wide memory budget of image decoding. Each decode first reserves the bytes it will
 * hold at its peak (estimated from the image's header), waits its turn when the budget is spent, and
 * gives the bytes back when done; so however many images arrive at once, the decoded pixels alive
 * stay within the budget. Large images take their turns first come, first served, and may use all
 * but the last SMALL_SHARE of the budget: that lane is kept for small ones (a photo, once shrunk on
 * load), which may also pass the large ones that wait. So a flood of huge images cannot hold up the
 * photos of other requests: it is the flood that waits, and is shed. An image larger than the large
 * images' share runs once it is the only large decode, so every image the pixel limit allows can
 * still be decoded. A decode that waits too long is refused with a
 * 503 (SERVICE_OVERLOADED), as a request that waits too long for the model is.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { RETRY_AFTER_SECONDS, ServiceError } from '../errors.ts';

const MiB = 1024 * 1024;
/** A decode of at most this share of the budget may pass larger ones that wait. */
export const SMALL_SHARE = 1 / 8;
/** `auto` takes this share of the memory the process may use... */
export const AUTO_DECODE_MEMORY_SHARE = 0.25;
/** ...but no more than this, so a large machine's server stays near 1 GB at its peak... */
export const AUTO_DECODE_MEMORY_MAX_BYTES = 512 * MiB;
/** ...and no less than this, so a small Lambda function still decodes a few photos at once. */
export const AUTO_DECODE_MEMORY_MIN_BYTES = 64 * MiB;

export interface DecodeBudgetOptions {
  /** Bytes of decoded images alive at once. */
  capacityBytes: number;
  /** Longest a decode waits for its bytes before it is refused with a 503; Infinity to wait as long as it takes. */
  waitTimeoutMs: number;
}

export interface DecodeBudget {
  readonly capacityBytes: number;
  /**
   * Runs `task` once `bytes` of the budget are free (or, for more than the whole budget, once no
   * other decode runs), and frees them when it settles. Throws SERVICE_OVERLOADED when the wait
   * exceeds the budget's timeout, and the signal's reason when it is aborted while waiting.
   */
  run<T>(bytes: number, task: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Bytes reserved by the decodes running now. */
  inUse(): number;
  /** Decodes waiting for their turn. */
  waiting(): number;
}

interface Waiter {
  bytes: number;
  grant: () => void;
  leave: (error: unknown) => void;
}

export function createDecodeBudget(options: DecodeBudgetOptions): DecodeBudget {
  const { capacityBytes, waitTimeoutMs } = options;
  if (!(capacityBytes > 0)) throw new RangeError(`capacityBytes must be positive (received ${capacityBytes})`);
  let used = 0;
  const queue: Waiter[] = [];
  // One abort listener per signal, however many of its request's images wait (a request has up to
  // MAX_IMAGES_PER_REQUEST): one each would pass Node's limit of 10 listeners and warn.
  const watched = new Map<AbortSignal, { waiters: Set<Waiter>; listener: () => void }>();

  const isSmall = (bytes: number) => bytes <= capacityBytes * SMALL_SHARE;
  const largeCapacity = Math.floor(capacityBytes * (1 - SMALL_SHARE));
  // More than the large images' share is taken as that share: it runs alone among the large ones.
  const clamp = (bytes: number) => {
    const whole = Math.max(0, Math.ceil(bytes));
    return isSmall(whole) ? whole : Math.min(whole, largeCapacity);
  };
  const fits = (bytes: number) => used + bytes <= (isSmall(bytes) ? capacityBytes : largeCapacity);

  /** Grants the queue's head as long as it fits, and behind a head that does not, the small ones that do. */
  const drain = () => {
    for (let i = 0; i < queue.length; ) {
      const waiter = queue[i]!;
      if (!fits(waiter.bytes) || (i > 0 && !isSmall(waiter.bytes))) {
        i++;
        continue;
      }
      queue.splice(i, 1);
      used += waiter.bytes;
      waiter.grant();
    }
  };

  const watch = (signal: AbortSignal, waiter: Waiter) => {
    let entry = watched.get(signal);
    if (!entry) {
      const waiters = new Set<Waiter>();
      const listener = () => {
        for (const each of [...waiters]) each.leave(signal.reason);
      };
      entry = { waiters, listener };
      watched.set(signal, entry);
      signal.addEventListener('abort', listener, { once: true });
    }
    entry.waiters.add(waiter);
  };
  const unwatch = (signal: AbortSignal, waiter: Waiter) => {
    const entry = watched.get(signal);
    if (!entry?.waiters.delete(waiter) || entry.waiters.size) return;
    signal.removeEventListener('abort', entry.listener);
    watched.delete(signal);
  };

  const acquire = (bytes: number, signal?: AbortSignal): Promise<void> => {
    signal?.throwIfAborted();
    if (fits(bytes) && (!queue.length || isSmall(bytes))) {
      used += bytes;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const timer = Number.isFinite(waitTimeoutMs)
        ? setTimeout(() => waiter.leave(overloaded(waitTimeoutMs)), waitTimeoutMs)
        : undefined;
      const settle = () => {
        clearTimeout(timer);
        if (signal) unwatch(signal, waiter);
      };
      const waiter: Waiter = {
        bytes,
        grant: () => {
          settle();
          resolve();
        },
        leave: (error) => {
          const index = queue.indexOf(waiter);
          if (index < 0) return;
          queue.splice(index, 1);
          settle();
          reject(error);
          // The head leaving may let the next ones in.
          drain();
        },
      };
      queue.push(waiter);
      if (signal) watch(signal, waiter);
    });
  };

  return {
    capacityBytes,
    async run(bytes, task, signal) {
      const reserved = clamp(bytes);
      await acquire(reserved, signal);
      try {
        return await task();
      } finally {
        used -= reserved;
        drain();
      }
    },
    inUse: () => used,
    waiting: () => queue.length,
  };
}

const overloaded = (waitedMs: number) =>
  new ServiceError(
    'SERVICE_OVERLOADED',
    `The service had no memory free to decode this request's images within ${waitedMs} ms; retry shortly.`,
    { retryAfterSeconds: RETRY_AFTER_SECONDS },
  );

/** What bounds the memory of this process, from whichever source applies. */
export interface MemoryLimits {
  /** AWS_LAMBDA_FUNCTION_MEMORY_SIZE: the function's memory, in MB (set only on Lambda). */
  lambdaMemoryMb?: string | undefined;
  /** The cgroup's limit (cgroup v2 memory.max, or v1 memory.limit_in_bytes), as read: `max` for none. */
  cgroupLimit?: string | undefined;
  /** The machine's memory, in bytes (os.totalmem()). */
  totalMemoryBytes: number;
}

/** The memory this process may use: Lambda's memory size, else the cgroup's limit, else the machine's. */
export function usableMemoryBytes(limits: MemoryLimits): number {
  const lambdaMb = Number(limits.lambdaMemoryMb?.trim());
  if (limits.lambdaMemoryMb?.trim() && Number.isFinite(lambdaMb) && lambdaMb > 0) return lambdaMb * MiB;
  const cgroup = Number(limits.cgroupLimit?.trim());
  // cgroup v1 writes a huge number (about 2^63) for "no limit"; anything above the machine is none.
  if (limits.cgroupLimit?.trim() && Number.isFinite(cgroup) && cgroup > 0 && cgroup < limits.totalMemoryBytes)
    return cgroup;
  return limits.totalMemoryBytes;
}

/**
 * DECODE_MEMORY_BYTES resolved: a number as given; `auto` a quarter of the usable memory, between
 * 64 MiB and 512 MiB.
 */
export function resolveDecodeMemoryBytes(setting: number | 'auto', limits: MemoryLimits): number {
  if (setting !== 'auto') return setting;
  const share = Math.floor(usableMemoryBytes(limits) * AUTO_DECODE_MEMORY_SHARE);
  return Math.min(AUTO_DECODE_MEMORY_MAX_BYTES, Math.max(AUTO_DECODE_MEMORY_MIN_BYTES, share));
}

/** This process's memory limits, read from the environment, the cgroup files and the OS. */
export function readMemoryLimits(env: Record<string, string | undefined> = process.env): MemoryLimits {
  return {
    lambdaMemoryMb: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    cgroupLimit: readFirst(['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']),
    totalMemoryBytes: os.totalmem(),
  };
}

function readFirst(paths: string[]): string | undefined {
  for (const path of paths) {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      // not this cgroup version, or not Linux
    }
  }
  return undefined;
}

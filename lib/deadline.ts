/**
 * A request's time limit. Past it the request's signal aborts with REQUEST_DEADLINE_EXCEEDED as its
 * reason: downloads stop, images still waiting for the model leave the queue, and the transport
 * answers 504 in the API's shape while it still can (before a load balancer or Lambda gives up on
 * the request and the client gets a bare gateway error, with no log line or metric from us).
 */
import { ServiceError } from './errors.ts';

export interface Deadline {
  /** Aborts at the deadline, or when `cause` (a client that went away) aborts first. */
  readonly signal: AbortSignal;
  /** Stops the clock once the request is answered. */
  clear(): void;
}

export function startDeadline(ms: number, cause?: AbortSignal): Deadline {
  const controller = new AbortController();
  const timer = setTimeout(
    () => {
      controller.abort(new ServiceError('REQUEST_DEADLINE_EXCEEDED', `The request did not finish within ${ms} ms.`));
    },
    Math.max(0, ms),
  );
  const forward = () => controller.abort(cause?.reason);
  cause?.addEventListener('abort', forward, { once: true });
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer);
      cause?.removeEventListener('abort', forward);
    },
  };
}

/** Throws the deadline's error once it has passed; a client's own abort is not an error to answer. */
export function throwIfPastDeadline(signal: AbortSignal | undefined): void {
  if (signal?.aborted && signal.reason instanceof ServiceError) throw signal.reason;
}

/**
 * `work`'s result, or the deadline's error as soon as it passes: the answer does not wait for work
 * that cannot be interrupted (a decode in progress). That work finishes on its own, its result dropped.
 */
export function raceDeadline<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      if (signal.reason instanceof ServiceError) reject(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

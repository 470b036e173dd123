/**
 * Request bodies read at once, in bytes (by Content-Length), for the whole server. Read all at once,
 * a burst of large uploads is held in memory together, each with its JSON text and its images'
 * bytes: 32 clients sending 8 base64 photos (6 MB) each at the same moment put up to 350 MB in the
 * event loop's buffers, and raised the server's peak RSS by about 100 MB. Read a few at a time, the
 * others wait in the kernel's socket buffers (their clients slow down), and each body is parsed and
 * dropped before the next ones come in; the one event loop could not parse them any faster anyway.
 *
 * Only a burst is worth waiting for. A body waiting for room looks, every `checkMs`, at how many
 * bytes the bodies being read have received meanwhile: fewer than `minBytesPerCheck`, and they are
 * slow uploads (a phone's, or a client trickling its body in on purpose), so it stops waiting and is
 * read beside them. Nor does anything wait longer than `maxWaitMs`.
 */
export interface BodyBudgetOptions {
  capacityBytes: number;
  checkMs: number;
  minBytesPerCheck: number;
  maxWaitMs: number;
}

export interface BodyTurn {
  /** Counts bytes of this body as they arrive: the progress that keeps others waiting. */
  received(bytes: number): void;
  /** The body is parsed (or failed): its room goes to the next. Idempotent. */
  release(): void;
}

export interface BodyBudget {
  /** The turn to read a body of `bytes`, once there is room, or once waiting is not worth it. */
  acquire(bytes: number): Promise<BodyTurn>;
}

export function createBodyBudget(options: BodyBudgetOptions): BodyBudget {
  const { capacityBytes, checkMs, minBytesPerCheck, maxWaitMs } = options;
  let used = 0;
  /** Bytes received by every body ever read: waiting bodies compare it between checks. */
  let receivedTotal = 0;
  const waiting: Array<{ bytes: number; start(): void }> = [];
  // An empty budget takes any body, even one larger than the whole budget.
  const fits = (bytes: number) => used === 0 || used + bytes <= capacityBytes;
  const take = (bytes: number): BodyTurn => {
    used += bytes;
    let released = false;
    return {
      received(count) {
        receivedTotal += count;
      },
      release() {
        if (released) return;
        released = true;
        used -= bytes;
        // In arrival order: a large body is not overtaken for ever by small ones.
        while (waiting[0] && fits(waiting[0].bytes)) waiting.shift()!.start();
      },
    };
  };
  return {
    acquire(bytes) {
      if (waiting.length === 0 && fits(bytes)) return Promise.resolve(take(bytes));
      return new Promise((resolve) => {
        const since = performance.now();
        let receivedAtCheck = receivedTotal;
        const entry = {
          bytes,
          start() {
            clearInterval(timer);
            resolve(take(bytes));
          },
        };
        const timer = setInterval(() => {
          const progress = receivedTotal - receivedAtCheck;
          receivedAtCheck = receivedTotal;
          if (progress >= minBytesPerCheck && performance.now() - since < maxWaitMs) return;
          waiting.splice(waiting.indexOf(entry), 1);
          entry.start();
        }, checkMs);
        waiting.push(entry);
      });
    },
  };
}

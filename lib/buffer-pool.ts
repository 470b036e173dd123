/**
 * Reused memory for large, short-lived buffers (request bodies, decoded pixels). A fresh buffer of
 * a few megabytes costs its page faults on first touch, and V8 counts it towards the external
 * memory that triggers garbage collections; a reused one costs neither. Released buffers are kept
 * while they total at most `keptBytes`; a request takes the smallest kept one that fits, else new
 * memory, rounded up so that it fits the next similar request too. Requests over `maxBufferBytes`
 * get memory of their own, dropped when released.
 */
export interface PooledBuffer {
  data: Buffer;
  /** Gives the memory back for the next user: call once, when done with `data`. */
  release(): void;
}

const GRANULE = 256 * 1024;

export function createBufferPool(options: {
  keptBytes: number;
  maxBufferBytes: number;
}): (size: number) => PooledBuffer {
  const free: Buffer[] = [];
  let freeBytes = 0;
  return (size) => {
    if (size > options.maxBufferBytes) return { data: Buffer.allocUnsafe(size), release: () => {} };
    let best = -1;
    for (const [i, buffer] of free.entries()) {
      if (buffer.length >= size && (best === -1 || buffer.length < free[best]!.length)) best = i;
    }
    const buffer = best === -1 ? Buffer.allocUnsafeSlow(Math.ceil(size / GRANULE) * GRANULE) : free.splice(best, 1)[0]!;
    if (best !== -1) freeBytes -= buffer.length;
    let released = false;
    return {
      data: buffer.subarray(0, size),
      release() {
        if (released) return;
        released = true;
        if (freeBytes + buffer.length > options.keptBytes) return;
        free.push(buffer);
        freeBytes += buffer.length;
      },
    };
  };
}

/**
 * Backpressure for the HTTP server: at most MAX_QUEUE_IMAGES images in the pipeline at once, from
 * admission to answer (downloading, decoding, waiting for a batch, in inference). A request that
 * would go over is refused at once with 503 and Retry-After, rather than queueing behind everyone
 * else; when the pipeline is full, before its body is even read.
 */
import { RETRY_AFTER_SECONDS, ServiceError } from '../errors.ts';

export interface Admission {
  /** Throws 503 SERVICE_OVERLOADED when no image can be admitted: checked before reading a body. */
  checkOpen(): void;
  /** Admits a request's images, or throws 503 SERVICE_OVERLOADED; call the returned function when done. */
  admit(images: number): () => void;
  /** Images admitted and not yet released (for the metrics). */
  inFlight(): number;
}

export function createAdmission(maxImages: number): Admission {
  let inFlight = 0;
  const overloaded = () =>
    new ServiceError('SERVICE_OVERLOADED', undefined, { retryAfterSeconds: RETRY_AFTER_SECONDS });
  return {
    checkOpen() {
      if (inFlight >= maxImages) throw overloaded();
    },
    admit(images) {
      if (inFlight + images > maxImages) throw overloaded();
      inFlight += images;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        inFlight -= images;
      };
    },
    inFlight: () => inFlight,
  };
}

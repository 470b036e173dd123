/**
 * Backpressure for the HTTP server: at most MAX_QUEUE_IMAGES images in the pipeline at once, from
 * admission to answer (downloading, decoding, waiting for a batch, in inference). A request that
 * would go over is refused at once with 503 and Retry-After, rather than queueing behind everyone
 * else; when the pipeline is full, before its body is even read.
 *
 * How many images a request brings is known only once its body is parsed, so a request whose body
 * is being read holds the room of one image (it brings at least one): when room opens up under
 * overload, only as many bodies are read as could be admitted, not one for every client waiting.
 * And a body that arrives after the pipeline filled up is refused before it is parsed.
 */
import { RETRY_AFTER_SECONDS, ServiceError } from '../errors.ts';

export interface Admission {
  /**
   * Before reading a request's body: throws 503 SERVICE_OVERLOADED when the images admitted and the
   * bodies being read fill the pipeline; else a ticket that holds one image's room while it is read.
   */
  enter(): AdmissionTicket;
  /** Images admitted and not yet released (for the metrics). */
  inFlight(): number;
}

export interface AdmissionTicket {
  /** Once the body is in hand, before parsing it: throws 503 when not one more image fits. */
  checkOpen(): void;
  /**
   * Admits the request's images in place of the room it held, or throws 503 SERVICE_OVERLOADED (and
   * gives that room back); call the returned function when done. Bodies still being read do not
   * count against it: they may turn out to hold no image that fits, and this one is in hand.
   */
  admit(images: number): () => void;
  /** Gives back the room held, when the request ends without being admitted. Idempotent. */
  leave(): void;
}

export function createAdmission(maxImages: number): Admission {
  let admitted = 0;
  let reading = 0;
  const overloaded = () =>
    new ServiceError('SERVICE_OVERLOADED', undefined, { retryAfterSeconds: RETRY_AFTER_SECONDS });
  return {
    enter() {
      if (admitted + reading >= maxImages) throw overloaded();
      reading++;
      let holding = true;
      const leave = () => {
        if (!holding) return;
        holding = false;
        reading--;
      };
      return {
        checkOpen() {
          if (admitted >= maxImages) throw overloaded();
        },
        admit(images) {
          leave();
          if (admitted + images > maxImages) throw overloaded();
          admitted += images;
          let released = false;
          return () => {
            if (released) return;
            released = true;
            admitted -= images;
          };
        },
        leave,
      };
    },
    inFlight: () => admitted,
  };
}

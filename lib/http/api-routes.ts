/**
 * The API's routes, from the route table (lib/routes.ts), over the transport-free service: liveness,
 * readiness, the model, and predictions. The server's own additions are here: 503 until the model
 * is ready, admission (backpressure) before a body is read and again before it is parsed, and no
 * more downloading for a client that has gone away.
 */
import { Readable } from 'node:stream';
import { raceDeadline, startDeadline } from '../deadline.ts';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { RETRY_AFTER_SECONDS, ServiceError } from '../errors.ts';
import type { ImageRetriever } from '../images/retrieve.ts';
import type { Classifier } from '../model/classifier.ts';
import { ROUTES, fastifySchema } from '../routes.ts';
import { predict } from '../service.ts';
import { serverTimingHeader } from '../timings.ts';
import { type PredictRequest, createRequestParser } from '../validation.ts';
import { type Admission, type AdmissionTicket, createAdmission } from './admission.ts';

export interface ApiRoutesOptions {
  config: Pick<Config, 'maxQueueImages' | 'maxImagesPerRequest' | 'requestDeadlineMs'>;
  retrieve: ImageRetriever;
  /** The classifier once it is loaded and warmed up; until then the service is alive but not ready. */
  classifier: () => Classifier | undefined;
  /** Shared with the metrics (images in flight); else its own, of MAX_QUEUE_IMAGES. */
  admission?: Admission;
}

export const apiRoutesPlugin: FastifyPluginAsync<ApiRoutesOptions> = async (app, options) => {
  const { config, retrieve } = options;
  const requireClassifier = (): Classifier => {
    const classifier = options.classifier();
    if (!classifier) throw new ServiceError('SERVICE_NOT_READY', undefined, { retryAfterSeconds: RETRY_AFTER_SECONDS });
    return classifier;
  };
  const requestParser = createRequestParser(config);
  const admission = options.admission ?? createAdmission(config.maxQueueImages);

  app.route({
    method: ROUTES.health.method,
    url: ROUTES.health.path,
    schema: fastifySchema(ROUTES.health),
    handler: async () => ({ message: 'OK' }),
  });

  app.route({
    method: ROUTES.readiness.method,
    url: ROUTES.readiness.path,
    schema: fastifySchema(ROUTES.readiness),
    handler: async () => {
      requireClassifier();
      return { status: 'ready' };
    },
  });

  app.route({
    method: ROUTES.models.method,
    url: ROUTES.models.path,
    schema: fastifySchema(ROUTES.models),
    handler: async () => requireClassifier().info,
  });

  // Each prediction's place in the admission, from its headers to its answer.
  const tickets = new WeakMap<FastifyRequest, AdmissionTicket>();
  app.route({
    method: ROUTES.predict.method,
    url: ROUTES.predict.path,
    // Not ready, or full: refuse before reading (and parsing) a body of up to MAX_BODY_BYTES.
    onRequest: async (request, reply) => {
      requireClassifier();
      const ticket = admission.enter();
      tickets.set(request, ticket);
      // 'close' comes once per response, whatever ended the request (an error, the client leaving).
      reply.raw.once('close', ticket.leave);
    },
    // Full by the time the body is in: refuse it before parsing it (megabytes of JSON and base64).
    preParsing: async (request, _reply, payload) =>
      Readable.from(
        checkedAtEnd(payload, () => tickets.get(request)?.checkOpen()),
        { objectMode: false },
      ),
    schema: { ...fastifySchema(ROUTES.predict), body: requestParser.schema },
    handler: async (request, reply) => {
      const classifier = requireClassifier();
      // Stop downloading for a client that has gone away. (The request's own 'close' fires as soon as
      // its body is read, so the response's is the one that tells.)
      const aborted = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) aborted.abort();
      });
      // Fastify has validated the body with the request parser's own compiled schema.
      const predictRequest = request.body as PredictRequest;
      const release = tickets.get(request)!.admit(predictRequest.images.length);
      const deadline = startDeadline(config.requestDeadlineMs, aborted.signal);
      // The images hold their admission until their work has really stopped, even past the deadline.
      const work = predict(predictRequest, { classifier, retrieve }, deadline.signal).finally(release);
      try {
        const { body, timings } = await raceDeadline(work, deadline.signal);
        request.timings = timings;
        reply.header('server-timing', serverTimingHeader(timings));
        return body;
      } finally {
        deadline.clear();
      }
    },
  });
};

/** The stream's chunks, then `check()` once it has ended: a throw fails the stream, and so the read. */
async function* checkedAtEnd(stream: AsyncIterable<Buffer>, check: () => void): AsyncGenerator<Buffer> {
  yield* stream;
  check();
}

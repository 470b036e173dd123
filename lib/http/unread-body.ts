/**
 * A response sent before its request's body has been received in full (a refusal: 503 when the
 * pipeline is full, 401, 404, 413, 415...) closes the connection, and the server reads no more of
 * the body. Kept alive, the connection would cost the refusal its whole upload: Node reads the rest
 * of the body (up to MAX_BODY_BYTES) and throws it away before it parses the next request, and the
 * client has to finish sending it before its next request can start.
 *
 * Closed at once, though, the socket is reset by the kernel as soon as more of the body comes in,
 * and a client still uploading then gets EPIPE or ECONNRESET, often before it has read the answer:
 * it sees a network error instead of the 503 and its Retry-After. Measured with 48 clients
 * uploading 5 MB each into a full pipeline (bench/overload.ts), a third of the refusals were lost
 * that way, and most for clients that hand the whole body to the socket at once. Reading the rest
 * until the client closes (nginx's lingering close) kept every answer, but the server then read
 * nearly every body in full: on loopback a client sends faster than it reads. So the
 * connection closes as Go's HTTP server closes it: the answer, then a FIN, then nothing read, and
 * the socket is closed LINGER_MS later, by when the client has read the answer and stopped sending.
 *
 * Wrapped with fastify-plugin so it covers every route and the not-found handler.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';

/** Go's rstAvoidanceDelay: time for the client to read the answer before the socket is reset. */
export const LINGER_MS = 500;

const unreadBody: FastifyPluginAsync = async (app) => {
  app.addHook('onSend', async (request, reply) => {
    // `complete` is Node's: the parser has seen the end of the message (at once for a request
    // without a body). Injected requests (app.inject) have no such flag and no connection.
    if (request.raw.complete !== false) return;
    reply.header('connection', 'close');
    closeLingering(request.raw.socket, request.raw);
  });
};

export const unreadBodyPlugin = fp(unreadBody, { name: 'unread-body' });

/**
 * Node's HTTP server closes a `Connection: close` response's socket with destroySoon() once the
 * response is sent, right after it has set the unread request flowing to drop the rest of its body.
 * This socket's destroySoon() pauses the request instead (Node then stops reading the socket once a
 * little is buffered), half-closes the connection, and destroys it LINGER_MS later.
 */
function closeLingering(socket: Socket, request: IncomingMessage): void {
  socket.destroySoon = function destroyAfterLinger(this: Socket) {
    request.pause();
    this.end();
    // Not unref'd: a server closing waits for its connections, this one included.
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    this.once('close', () => clearTimeout(timer));
  };
}

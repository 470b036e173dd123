/**
 * Request ids: a caller's x-request-id is kept when it looks like one, so its logs and ours can be
 * joined; anything else (missing, too long, odd characters) is replaced by the transport's own id.
 */
const REQUEST_ID = /^[\w.:-]{1,128}$/;

export function callerRequestId(header: unknown): string | undefined {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : undefined;
}

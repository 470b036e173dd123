/**
 * API keys: once the server has any (API_KEYS, API_KEYS_FILE; read and checked by config.ts), a
 * request to a /v1 path needs one, as `Authorization: Bearer <key>` or `x-api-key: <key>`, else
 * 401 AUTH_REQUIRED or AUTH_INVALID with a WWW-Authenticate challenge (RFC 6750). Health, the docs
 * and the demo page stay open. An unknown path under /v1 gets the 401 too, so a caller without a key
 * learns nothing of the routes. Keys are compared as SHA-256 digests in constant time, against every
 * key, and are never logged. Wrapped with fastify-plugin so its hook covers every route and the
 * not-found handler; registered before the error handler's hook that refuses unknown routes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ServiceError } from '../errors.ts';
import { needsApiKey } from '../routes.ts';

export interface AuthOptions {
  /** The keys accepted; none turns authentication off. */
  apiKeys: readonly string[];
}

const REALM = 'image-classifier';
export const AUTH_REQUIRED_CHALLENGE = `Bearer realm="${REALM}"`;
export const AUTH_INVALID_CHALLENGE = `Bearer realm="${REALM}", error="invalid_token"`;

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Whether a key is one of `keys`, in time that depends on neither: equal-length digests, compared
 * with timingSafeEqual against every key, with no early exit.
 */
export function keyMatcher(keys: readonly string[]): (presented: string) => boolean {
  const digests = keys.map(sha256);
  return (presented) => {
    const digest = sha256(presented);
    let matches = 0;
    for (const known of digests) matches |= Number(timingSafeEqual(digest, known));
    return matches === 1;
  };
}

/** The key a request presents: a bearer token, else x-api-key; undefined when it sends neither. */
export function presentedKey(headers: FastifyRequest['headers']): string | undefined {
  const bearer = /^Bearer[ \t]+(.*)$/i.exec(headers.authorization ?? '')?.[1]?.trim();
  if (bearer) return bearer;
  const header = headers['x-api-key'];
  const apiKey = (Array.isArray(header) ? header.join(', ') : header)?.trim();
  return apiKey || undefined;
}

/** The path the request is for: its route's, or (unknown routes) its URL's, percent-decoded as the router does. */
function requestPath(request: FastifyRequest): string {
  if (request.routeOptions.url !== undefined && !request.is404) return request.routeOptions.url;
  const path = request.url.split('?')[0] ?? '/';
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

const auth: FastifyPluginAsync<AuthOptions> = async (app, { apiKeys }) => {
  if (apiKeys.length === 0) return;
  const isKey = keyMatcher(apiKeys);
  app.addHook('onRequest', async (request) => {
    if (!needsApiKey(requestPath(request))) return;
    const key = presentedKey(request.headers);
    if (key === undefined)
      throw new ServiceError('AUTH_REQUIRED', undefined, { wwwAuthenticate: AUTH_REQUIRED_CHALLENGE });
    if (!isKey(key)) throw new ServiceError('AUTH_INVALID', undefined, { wwwAuthenticate: AUTH_INVALID_CHALLENGE });
  });
};

export const authPlugin = fp(auth, { name: 'auth' });

/**
 * Downloads one image over http(s) with undici, within limits: a deadline for the whole download
 * (redirects included), a byte cap checked against Content-Length and while streaming, and a
 * redirect cap with every hop re-checked. The SSRF guard sits in the connector, so the address
 * judged is the address actually connected to (no DNS-rebinding gap), on every hop. Failures become
 * ImageErrors here; undici's own errors stay in `cause`.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, buildConnector, type Dispatcher, request } from 'undici';
import type { Config } from '../config.ts';
import { ImageError, imageTooLarge } from '../errors.ts';
import { readCapped } from '../read-capped.ts';
import { isPublicAddress } from './address-policy.ts';
import { AddressRefusedError, headerFailure, toImageError } from './download-errors.ts';

export interface DownloadLimits {
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
  allowPrivateUrls: boolean;
}

/** The download limits set by configuration. */
export function downloadLimits(
  config: Pick<Config, 'downloadTimeoutMs' | 'maxImageBytes' | 'maxRedirects' | 'allowPrivateUrls'>,
): DownloadLimits {
  return {
    timeoutMs: config.downloadTimeoutMs,
    maxBytes: config.maxImageBytes,
    maxRedirects: config.maxRedirects,
    allowPrivateUrls: config.allowPrivateUrls,
  };
}

/** dns.lookup's signature; injectable so tests can make a name resolve where they need it. */
export type LookupFunction = typeof dnsLookup;

export interface DownloaderDeps {
  lookup?: LookupFunction;
  /** Which addresses the guard lets through; tests narrow it, production uses isPublicAddress. */
  isAddressAllowed?: (address: string) => boolean;
}

export interface Downloader {
  download(url: string, signal?: AbortSignal): Promise<Buffer>;
  close(): Promise<void>;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'image-classifier-api';
/** How long an idle outbound connection is kept for the next download from the same origin. */
const KEEP_ALIVE_MS = 4_000;

export function createDownloader(limits: DownloadLimits, deps: DownloaderDeps = {}): Downloader {
  const lookup = deps.lookup ?? dnsLookup;
  const isAllowed = limits.allowPrivateUrls ? () => true : (deps.isAddressAllowed ?? isPublicAddress);
  const agent = new Agent({
    connect: guardedConnector(lookup, isAllowed, Math.min(limits.timeoutMs, 10_000)),
    headersTimeout: limits.timeoutMs,
    bodyTimeout: limits.timeoutMs,
    keepAliveTimeout: KEEP_ALIVE_MS,
    // undici lets an origin's `Keep-Alive: timeout=N` hint raise the idle time up to 10 minutes:
    // a hostile origin could hold hundreds of our sockets open. Its hint may only shorten it.
    keepAliveMaxTimeout: KEEP_ALIVE_MS,
  });

  return {
    async download(url, signal) {
      const deadline = AbortSignal.timeout(limits.timeoutMs);
      const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
      try {
        return await follow(agent, url, limits, combined);
      } catch (error) {
        throw toImageError(error, deadline.aborted, limits.timeoutMs);
      }
    },
    close: () => agent.close(),
  };
}

async function follow(agent: Agent, firstUrl: string, limits: DownloadLimits, signal: AbortSignal): Promise<Buffer> {
  let url = parseHttpUrl(firstUrl);
  for (let redirects = 0; ; redirects++) {
    const response = await request(url, {
      dispatcher: agent,
      method: 'GET',
      signal,
      headers: { 'user-agent': USER_AGENT, accept: 'image/*,*/*;q=0.8' },
    }).catch(headerFailure);
    if (REDIRECT_STATUSES.has(response.statusCode)) {
      discard(response.body);
      const location = redirectTarget(response.statusCode, response.headers.location);
      if (redirects >= limits.maxRedirects) {
        throw new ImageError(
          'DOWNLOAD_TOO_MANY_REDIRECTS',
          `The URL redirected more than ${limits.maxRedirects} times.`,
        );
      }
      url = parseHttpUrl(location, url);
      continue;
    }
    if (response.statusCode !== 200) {
      discard(response.body);
      throw new ImageError('DOWNLOAD_FAILED', `The image server answered with status ${response.statusCode}.`);
    }
    return readImage(response.body, response.headers['content-length'], limits.maxBytes);
  }
}

/** The one Location of a redirect; none, or several that may disagree, is the origin's fault. */
function redirectTarget(status: number, location: string | string[] | undefined): string {
  if (typeof location === 'string') return location;
  const problem = location === undefined ? 'without a Location header' : `with ${location.length} Location headers`;
  throw new ImageError('DOWNLOAD_FAILED', `The image server answered ${status} ${problem}.`);
}

/** An absolute http(s) URL without credentials; relative redirect targets resolve against `base`. */
function parseHttpUrl(text: string, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(text, base);
  } catch {
    throw new ImageError('URL_INVALID');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ImageError(
      'URL_SCHEME_UNSUPPORTED',
      `Only http and https URLs are supported, not ${url.protocol.slice(0, -1)}.`,
    );
  }
  if (url.username || url.password) throw new ImageError('URL_INVALID', 'URLs with credentials are not supported.');
  return url;
}

type Body = Dispatcher.ResponseData['body'];

function readImage(body: Body, contentLength: string | string[] | undefined, maxBytes: number): Promise<Buffer> {
  const declared = typeof contentLength === 'string' ? contentLength : undefined;
  return readCapped(body as AsyncIterable<Buffer>, declared, maxBytes, () => {
    discard(body);
    return imageTooLarge(maxBytes);
  });
}

/** Drops a body we will not read; the connection closes instead of draining an unknown amount. */
function discard(body: Body): void {
  body.on('error', () => {});
  body.destroy();
}

/**
 * undici's connector with the guard in front: an IP literal is judged before connecting, and a host
 * name through a lookup that refuses the connection when any address it resolves to is not allowed.
 */
function guardedConnector(
  lookup: LookupFunction,
  isAllowed: (address: string) => boolean,
  connectTimeoutMs: number,
): buildConnector.connector {
  const guardedLookup = (hostname: string, options: LookupOptions, callback: (...args: unknown[]) => void) => {
    lookup(
      hostname,
      { ...options, all: true } as LookupAllOptions,
      (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => {
        if (error) return callback(error);
        const refused = addresses.find(({ address }) => !isAllowed(address));
        if (refused) return callback(new AddressRefusedError(refused.address));
        if (options.all) return callback(null, addresses);
        const [first] = addresses;
        return callback(null, first?.address, first?.family);
      },
    );
  };
  const connect = buildConnector({ lookup: guardedLookup, timeout: connectTimeoutMs } as buildConnector.BuildOptions);
  return (options, callback) => {
    const host = options.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && !isAllowed(host)) return callback(new AddressRefusedError(host), null);
    return connect(options, callback);
  };
}

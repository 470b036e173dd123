/**
 * The demo page at GET /: static files from public/, read once at start-up and served from memory.
 * Everything the page needs comes from this server (no CDN, no external request), and its
 * Content-Security-Policy says so. A plugin of its own so the API's routes know nothing of it.
 */
import { readFile } from 'node:fs/promises';
import type { FastifyPluginAsync } from 'fastify';
import { PUBLIC_DIR } from '../layout.ts';

export const DEMO_PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** URL path -> file in public/ and its content type. */
const FILES: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/demo/demo.js': ['demo.js', 'text/javascript; charset=utf-8'],
  '/demo/demo.css': ['demo.css', 'text/css; charset=utf-8'],
};

export interface StaticFile {
  body: Buffer;
  contentType: string;
}

export async function loadDemoPage(): Promise<Map<string, StaticFile>> {
  const entries = await Promise.all(
    Object.entries(FILES).map(
      async ([path, [file, contentType]]) =>
        [path, { body: await readFile(new URL(file, PUBLIC_DIR)), contentType }] as const,
    ),
  );
  return new Map(entries);
}

/** Its routes, hidden from the OpenAPI document. */
export const demoPagePlugin: FastifyPluginAsync = async (app) => {
  for (const [path, file] of await loadDemoPage()) {
    app.get(path, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .header('content-type', file.contentType)
        .header('content-security-policy', DEMO_PAGE_CSP)
        .header('cache-control', 'no-cache')
        .send(file.body),
    );
  }
};

/**
 * Response headers for a JSON API that browsers may also reach: no MIME sniffing, no framing, no
 * referrer, no caching of answers, and a content policy that lets a JSON body do nothing at all.
 * HTML pages (Swagger UI, the demo page) set their own Content-Security-Policy.
 */

export const COMMON_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
};

export const JSON_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  ...COMMON_SECURITY_HEADERS,
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cache-control': 'no-store',
};

/**
 * The one inline <style> element Swagger UI's bundle inserts. If an upgrade changes it, the
 * browser test of /docs fails and Chromium's message gives the new hash.
 */
const SWAGGER_UI_STYLE_HASH = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='";

/**
 * Swagger UI's policy as @fastify/swagger-ui computes it, narrowed to this server: no external
 * validator, stylesheets or fonts, no framing (as X-Frame-Options says), no https upgrade (which
 * breaks http://localhost), and its own inline style allowed by hash.
 */
export function docsContentSecurityPolicy(policy: string): string {
  return policy
    .replace(/ validator\.swagger\.io/, '')
    .replace(/ https:/g, '')
    .replace("frame-ancestors 'self'", "frame-ancestors 'none'")
    .replace("style-src 'self'", `style-src 'self' ${SWAGGER_UI_STYLE_HASH}`)
    .replace(/\s*upgrade-insecure-requests;?/, '');
}

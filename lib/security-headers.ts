/**
 * Response headers for a JSON API that browsers may also reach: no MIME sniffing, no framing, no
 * referrer, no caching of answers, and a content policy that lets a JSON body do nothing at all.
 * HTML pages (Swagger UI, the demo page) set their own Content-Security-Policy (lib/http/docs.ts,
 * lib/http/demo-page.ts).
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

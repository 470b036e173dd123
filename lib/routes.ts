/**
 * The API's routes, once: method, path, response schema, the error statuses it documents, and
 * which Lambda function serves it. The HTTP server registers them, the
 * Lambda functions route and serialize by them, and a test holds serverless.yml's events to them.
 * Each transport supplies its own handler (the server adds admission and client-abort handling).
 */
import { errorBodySchema, healthSchema, modelInfoSchema, predictResponseSchema, readinessSchema } from './schemas.ts';

export interface ApiRoute {
  method: 'GET' | 'POST';
  path: string;
  summary: string;
  tags: string[];
  /** The 200 body's schema: it validates nothing, but serializes (dropping unnamed fields) and documents. */
  response: object;
  /** Error statuses the route documents, each with the error body's schema. */
  errorStatuses: number[];
  /** The Lambda function that serves it (serverless.yml). */
  lambda: 'predict' | 'health';
}

export const ROUTES = {
  health: {
    method: 'GET',
    path: '/health',
    summary: 'Liveness: the process is up.',
    tags: ['health'],
    response: healthSchema,
    errorStatuses: [],
    lambda: 'health',
  },
  readiness: {
    method: 'GET',
    path: '/health/ready',
    summary: 'Readiness: the model is loaded and warmed up (probe this from load balancers).',
    tags: ['health'],
    response: readinessSchema,
    errorStatuses: [503],
    lambda: 'predict',
  },
  models: {
    method: 'GET',
    path: '/v1/models',
    summary: 'The model being served.',
    tags: ['model'],
    response: modelInfoSchema,
    errorStatuses: [503],
    lambda: 'predict',
  },
  predict: {
    method: 'POST',
    path: '/v1/predict',
    summary: 'Classify images given by URL or as base64 data.',
    tags: ['model'],
    response: predictResponseSchema,
    errorStatuses: [400, 413, 415, 422, 500, 503],
    lambda: 'predict',
  },
} as const satisfies Record<string, ApiRoute>;

export type RouteName = keyof typeof ROUTES;

/** The names of the routes a Lambda function serves, so its router must handle every one. */
export type RouteNamesOf<L extends ApiRoute['lambda']> = {
  [K in RouteName]: (typeof ROUTES)[K]['lambda'] extends L ? K : never;
}[RouteName];

/** "GET /health"-style keys, as API Gateway's httpApi events and the Lambda routers write them. */
export const routeKey = (route: ApiRoute): string => `${route.method} ${route.path}`;

/** The routes a Lambda function serves. */
export const routesOf = (lambda: ApiRoute['lambda']): ApiRoute[] =>
  Object.values(ROUTES).filter((route) => route.lambda === lambda);

/**
 * Whether a path needs an API key once the server has keys (lib/http/auth.ts): everything under /v1.
 * Health, the docs and the demo page stay open.
 */
export const needsApiKey = (path: string): boolean => path === '/v1' || path.startsWith('/v1/');

/**
 * The OpenAPI security of a keyed route: a key as a bearer token or in x-api-key, or none (`{}`), since
 * a server without keys configured takes requests without one. The schemes are in lib/http/docs.ts.
 */
export const API_KEY_SECURITY: ReadonlyArray<Record<string, readonly string[]>> = [
  {},
  { bearerAuth: [] },
  { apiKey: [] },
];

/** The route's schema part for Fastify: documentation and response serialization. */
export function fastifySchema(route: ApiRoute): {
  summary: string;
  tags: string[];
  response: Record<number, object>;
  security?: typeof API_KEY_SECURITY;
} {
  const keyed = needsApiKey(route.path);
  return {
    summary: route.summary,
    tags: [...route.tags],
    response: {
      200: route.response,
      ...Object.fromEntries(
        (keyed ? [401, ...route.errorStatuses] : route.errorStatuses).map((status) => [status, errorBodySchema]),
      ),
    },
    ...(keyed && { security: API_KEY_SECURITY }),
  };
}

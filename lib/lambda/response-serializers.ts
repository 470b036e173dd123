/**
 * The Lambda functions' response bodies, serialized through the same JSON Schemas (the route
 * table's) and the same library, fast-json-stringify, as the HTTP server's: a field the schema
 * does not name is dropped on both transports alike, never sent by one only.
 */
import fastJson from 'fast-json-stringify';
import { ROUTES, type RouteName } from '../routes.ts';
import { errorBodySchema } from '../schemas.ts';

export type Serializer = (body: any) => string;

/** Each route's 200 body. */
export const serializeRoute = Object.fromEntries(
  Object.entries(ROUTES).map(([name, route]) => [name, fastJson(route.response)]),
) as Record<RouteName, Serializer>;

export const serializeError: Serializer = fastJson(errorBodySchema);

/**
 * Request validation, shared by the HTTP server and the Lambda handlers so both answer a bad request
 * with the same 422. One ajv instance compiles each schema once; its errors are translated here into
 * the API's error entries (the raw ajv errors stay in `cause`, never in the response).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { type ErrorEntry, ServiceError } from './errors.ts';
import { type PredictRequest, type SchemaLimits, predictRequestSchema } from './schemas.ts';

export type { PredictRequest };

// Defaults fill in `images: []` and `top_k: 1`; no type coercion: "3" is not a number. String
// lengths are counted in UTF-16 units: counting code points walks every megabyte of base64 data.
// (ajv calls that option deprecated, and would print so on stderr: its logger is off.)
const ajv = new Ajv({ useDefaults: true, coerceTypes: false, allErrors: false, unicode: false, logger: false });
const compiled = new WeakMap<object, ValidateFunction>();

/** The compiled validator of a schema, compiled on first use and cached (compiling costs cold start). */
export function validatorFor(schema: object): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

export function createRequestParser(limits: SchemaLimits): { schema: object; parse(body: unknown): PredictRequest } {
  const schema = predictRequestSchema(limits);
  const validate = validatorFor(schema);
  return {
    schema,
    parse(body) {
      if (!validate(body)) throw requestInvalid(validate.errors ?? []);
      return body as PredictRequest;
    },
  };
}

/** The 422 for failed validation, naming the field; too many images has its own code. */
export function requestInvalid(errors: ReadonlyArray<ErrorObject>): ServiceError {
  // A failed oneOf (url or data) comes after the errors of its branches; it is the one that explains.
  const first = errors.find((error) => error.keyword === 'oneOf') ?? errors[0];
  if (!first) return new ServiceError('REQUEST_INVALID');
  if (first.keyword === 'maxItems' && first.instancePath === '/images') {
    return new ServiceError(
      'REQUEST_TOO_MANY_IMAGES',
      `At most ${first.params.limit} images are allowed per request.`,
      { cause: errors },
    );
  }
  const entry = toEntry(first);
  return new ServiceError('REQUEST_INVALID', entry.message, { errors: [entry], cause: errors });
}

/**
 * Field names come from the client and are quoted in the message, the field and the log line: a
 * 5 MB key would be echoed three times. Past this length they are cut, with an ellipsis.
 */
const MAX_QUOTED_NAME = 100;
const quoted = (name: string): string => (name.length > MAX_QUOTED_NAME ? `${name.slice(0, MAX_QUOTED_NAME)}…` : name);

function toEntry(error: ErrorObject): ErrorEntry {
  const segments = error.instancePath
    .split('/')
    .slice(1)
    .map((s) => quoted(s.replace(/~1/g, '/').replace(/~0/g, '~')));
  const index = segments[0] === 'images' && /^\d+$/.test(segments[1] ?? '') ? Number(segments[1]) : undefined;
  const field = segments.reduce(
    (path, segment) => (/^\d+$/.test(segment) ? `${path}[${segment}]` : path ? `${path}.${segment}` : segment),
    '',
  );
  const withIndex = (entry: Omit<ErrorEntry, 'index'>): ErrorEntry =>
    index === undefined ? entry : { index, ...entry };

  if (error.keyword === 'additionalProperties') {
    const name = quoted(String(error.params.additionalProperty));
    const unknown = field ? `${field}.${name}` : name;
    return withIndex({ field: unknown, code: 'FIELD_UNKNOWN', message: `${unknown} is not a field of the API.` });
  }
  if (error.keyword === 'oneOf' && index !== undefined && segments.length === 2) {
    return withIndex({ field, code: 'IMAGE_SOURCE_INVALID', message: `${field} needs exactly one of url or data.` });
  }
  if (!field) return { code: 'FIELD_INVALID', message: `The request body ${error.message ?? 'is invalid'}.` };
  if (error.keyword === 'minLength' && error.params.limit === 1)
    return withIndex({ field, code: 'FIELD_INVALID', message: `${field} must not be empty.` });
  return withIndex({ field, code: 'FIELD_INVALID', message: `${field} ${error.message ?? 'is invalid'}.` });
}

/**
 * The API's JSON Schemas, defined once: they validate requests (ajv, in the server and the Lambda
 * handlers), serialise responses, are the OpenAPI document's components, and give the TypeScript
 * types (json-schema-to-ts, types only). Limits that come from configuration (images per request)
 * are built in, so the published document states them.
 */
import type { FromSchema } from 'json-schema-to-ts';

export const MAX_TOP_K = 10;
export const MAX_URL_LENGTH = 8192;

export interface SchemaLimits {
  maxImagesPerRequest: number;
}

const prediction = {
  type: 'object',
  title: 'Prediction',
  required: ['score', 'category', 'name'],
  additionalProperties: false,
  properties: {
    score: { type: 'number', minimum: 0, maximum: 1, description: 'Probability of the class, rounded to 4 decimals.' },
    category: { type: 'string', description: 'Class id: the WordNet id for ImageNet models.', examples: ['n03770679'] },
    name: { type: 'string', description: "Class name as the model's class index spells it.", examples: ['minivan'] },
  },
} as const;

export const errorBodySchema = {
  type: 'object',
  title: 'Error',
  required: ['message', 'code'],
  additionalProperties: false,
  properties: {
    message: { type: 'string', description: 'What went wrong, for people.' },
    code: { type: 'string', description: 'Stable error code, for programs.' },
    errors: {
      type: 'array',
      description: 'One entry per failing image or field.',
      items: {
        type: 'object',
        required: ['code', 'message'],
        additionalProperties: false,
        properties: {
          index: { type: 'integer', minimum: 0, description: 'Position of the image in the request.' },
          field: { type: 'string', description: 'The request field at fault, as images[0].url.' },
          code: { type: 'string' },
          message: { type: 'string' },
        },
      },
    },
  },
} as const;

/** A body of one string property with one allowed value, as the health routes answer. */
function fixedBodySchema<const Title extends string, const Property extends string, const Value extends string>(
  title: Title,
  property: Property,
  value: Value,
) {
  const properties = { [property]: { type: 'string', enum: [value] } as const } as {
    [K in Property]: FixedString<Value>;
  };
  return { type: 'object', title, required: [property], additionalProperties: false, properties } as const;
}
type FixedString<Value> = { readonly type: 'string'; readonly enum: readonly [Value] };

export const healthSchema = fixedBodySchema('Health', 'message', 'OK');
export const readinessSchema = fixedBodySchema('Readiness', 'status', 'ready');

export const modelInfoSchema = {
  type: 'object',
  title: 'Model',
  required: ['name', 'engine', 'input', 'classes'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', description: "The model folder's name.", examples: ['mobilenet_v2'] },
    engine: { type: 'string', description: 'The inference engine running it.', examples: ['onnx'] },
    input: {
      type: 'object',
      required: ['width', 'height', 'channels'],
      additionalProperties: false,
      properties: { width: { type: 'integer' }, height: { type: 'integer' }, channels: { type: 'integer' } },
    },
    classes: { type: 'integer', description: 'Number of classes.' },
  },
} as const;

export const predictResponseSchema = {
  type: 'object',
  title: 'PredictResponse',
  required: ['images'],
  additionalProperties: false,
  properties: {
    images: {
      type: 'array',
      description: 'One result per image, in request order.',
      items: {
        type: 'object',
        title: 'ImageResult',
        required: prediction.required,
        additionalProperties: false,
        properties: {
          ...prediction.properties,
          predictions: {
            type: 'array',
            items: prediction,
            description: 'The top_k classes, most probable first (only when top_k > 1).',
          },
        },
      },
    },
  },
} as const;

export function predictRequestSchema(limits: SchemaLimits) {
  return {
    type: 'object',
    title: 'PredictRequest',
    additionalProperties: false,
    properties: {
      images: {
        type: 'array',
        maxItems: limits.maxImagesPerRequest,
        default: [],
        description: `The images to classify (at most ${limits.maxImagesPerRequest}).`,
        items: {
          type: 'object',
          title: 'ImageInput',
          description: 'Exactly one of url or data.',
          additionalProperties: false,
          oneOf: [{ required: ['url'] }, { required: ['data'] }],
          properties: {
            url: {
              type: 'string',
              minLength: 1,
              maxLength: MAX_URL_LENGTH,
              description: 'An http(s) URL of the image.',
            },
            data: { type: 'string', minLength: 1, description: 'The image file, base64-encoded.' },
          },
        },
      },
      top_k: {
        type: 'integer',
        minimum: 1,
        maximum: MAX_TOP_K,
        default: 1,
        description: 'How many classes to return per image.',
      },
    },
    examples: [{ images: [{ url: 'https://example.com/cat.jpg' }], top_k: 3 }],
  } as const;
}

// The API's types, read from the schemas above: a field added to a schema appears in its type.
export type PredictRequest = FromSchema<ReturnType<typeof predictRequestSchema>>;
/** An image of a request: exactly one of url or data. */
export type ImageInput = PredictRequest['images'][number];
export type PredictResponse = FromSchema<typeof predictResponseSchema>;
export type ImageResult = PredictResponse['images'][number];
export type Prediction = FromSchema<typeof prediction>;
export type ErrorBody = FromSchema<typeof errorBodySchema>;
export type ErrorEntry = NonNullable<ErrorBody['errors']>[number];
export type ModelInfo = FromSchema<typeof modelInfoSchema>;

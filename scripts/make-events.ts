/**
 * Writes the API Gateway test events in test/events/ (for `serverless invoke local` and the handler
 * tests): HTTP API v2 with a JSON body, v2 with a base64-encoded body, REST v1, and GET /health.
 * The image is the cat fixture, shrunk to the model's size so the files stay small.
 */
import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';

const image = await sharp('test/fixtures/cat_720p.jpg')
  .resize(224, 224, { fit: 'fill' })
  .jpeg({ quality: 90 })
  .toBuffer();
const body = JSON.stringify({ images: [{ data: image.toString('base64') }], top_k: 3 });

const v2 = (method: string, path: string, extra: object = {}) => ({
  version: '2.0',
  routeKey: `${method} ${path}`,
  rawPath: path,
  rawQueryString: '',
  headers: {
    'content-type': 'application/json',
    host: 'abc123.execute-api.us-east-1.amazonaws.com',
    'user-agent': 'curl/8.5.0',
  },
  requestContext: {
    accountId: '123456789012',
    apiId: 'abc123',
    domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
    http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'curl/8.5.0' },
    requestId: 'Jx1a2b3c4d5e6f7=',
    routeKey: `${method} ${path}`,
    stage: '$default',
    time: '24/Nov/2026:12:00:00 +0000',
    timeEpoch: 1795521600000,
  },
  isBase64Encoded: false,
  ...extra,
});

const events: Record<string, object> = {
  'http-api-v2.json': v2('POST', '/v1/predict', { body }),
  'http-api-v2-base64.json': v2('POST', '/v1/predict', {
    body: Buffer.from(body).toString('base64'),
    isBase64Encoded: true,
  }),
  'rest-v1.json': {
    resource: '/v1/predict',
    path: '/v1/predict',
    httpMethod: 'POST',
    headers: { 'Content-Type': 'application/json', Host: 'abc123.execute-api.us-east-1.amazonaws.com' },
    multiValueHeaders: { 'Content-Type': ['application/json'] },
    queryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      httpMethod: 'POST',
      path: '/dev/v1/predict',
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
      resourcePath: '/v1/predict',
      stage: 'dev',
    },
    body,
    isBase64Encoded: false,
  },
  'health-v2.json': v2('GET', '/health'),
};

for (const [file, event] of Object.entries(events))
  await writeFile(`test/events/${file}`, `${JSON.stringify(event, null, 2)}\n`);

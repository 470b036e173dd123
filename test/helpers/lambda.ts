/** API Gateway events and a Lambda context, as the Lambda runtime hands them to a handler. */
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, Context } from 'aws-lambda';

export function httpApiEvent(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string | Buffer; base64?: boolean } = {},
): APIGatewayProxyEventV2 {
  const body =
    options.body === undefined
      ? undefined
      : options.base64
        ? Buffer.from(options.body).toString('base64')
        : String(options.body);
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers: options.headers ?? {},
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example',
      domainPrefix: 'api',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'test' },
      requestId: `v2-${Math.random().toString(36).slice(2)}`,
      routeKey: `${method} ${path}`,
      stage: '$default',
      time: '24/Nov/2026:12:00:00 +0000',
      timeEpoch: 0,
    },
    body,
    isBase64Encoded: options.base64 === true,
  };
}

export function restApiEvent(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string } = {},
): APIGatewayProxyEvent {
  return {
    resource: path,
    path,
    httpMethod: method,
    headers: options.headers ?? {},
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: {
      requestId: `v1-${Math.random().toString(36).slice(2)}`,
      httpMethod: method,
      path: `/dev${path}`,
      stage: 'dev',
    } as APIGatewayProxyEvent['requestContext'],
    body: options.body ?? null,
    isBase64Encoded: false,
  };
}

export function lambdaContext(functionName = 'image-classifier-test-predict'): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '2048',
    awsRequestId: `aws-${Math.random().toString(36).slice(2)}`,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/11/24/[$LATEST]abc',
    getRemainingTimeInMillis: () => 29_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** Runs `fn` with stdout and stderr captured (Powertools writes logs and EMF metrics there). */
export async function captureOutput<T>(fn: () => Promise<T>): Promise<{ result: T; lines: unknown[] }> {
  const chunks: string[] = [];
  const stdout = process.stdout.write;
  const stderr = process.stderr.write;
  // Strings are what Powertools writes; binary chunks are the test runner's own protocol, passed on.
  const capture = (original: typeof process.stdout.write) =>
    ((chunk: unknown, ...rest: unknown[]) => {
      if (typeof chunk !== 'string')
        return (original as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
      chunks.push(chunk);
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture(stdout);
  process.stderr.write = capture(stderr);
  try {
    const result = await fn();
    return {
      result,
      lines: chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as unknown),
    };
  } finally {
    process.stdout.write = stdout;
    process.stderr.write = stderr;
  }
}

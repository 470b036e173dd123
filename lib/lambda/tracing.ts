/**
 * AWS X-Ray tracing of the predict function through Powertools Tracer, when serverless.yml's
 * `tracing` param turns it on (POWERTOOLS_TRACE_ENABLED=true, X-Ray active on the function).
 * init.ts imports this module only then, so a function without tracing never loads the X-Ray SDK.
 *
 * Each invocation gets a `## <handler>` subsegment annotated with ColdStart and Service, and each
 * stage of the work one of its own (download and decode per image, inference per request) through
 * the core's Trace hook. Outgoing requests are not instrumented: the downloads go to the callers'
 * URLs, which must not receive this account's trace ids in an X-Amzn-Trace-Id header.
 */
import { Tracer } from '@aws-lambda-powertools/tracer';
import { ImageError } from '../errors.ts';
import type { Trace } from '../images/retrieve.ts';

/** Marks the invocation's subsegment as an error (4xx) or a fault (5xx) from its response. */
interface HasStatus {
  statusCode: number;
}

export interface LambdaTracing {
  /** Runs one invocation inside its `## <handler>` subsegment. */
  invocation<R extends HasStatus>(work: () => Promise<R>): Promise<R>;
  /** The core's hook: a subsegment per download, decode and inference. */
  trace: Trace;
}

/**
 * The function's tracing, or undefined when Powertools reports it disabled: outside Lambda (tests,
 * `serverless invoke local`, no AWS_EXECUTION_ENV), under SAM local, or with
 * POWERTOOLS_TRACE_ENABLED=false. Then nothing is traced and no X-Ray context is needed.
 */
export function createLambdaTracing(serviceName: string, tracer?: Tracer): LambdaTracing | undefined {
  const xray = tracer ?? new Tracer({ serviceName, captureHTTPsRequests: false });
  if (!xray.isTracingEnabled()) return undefined;
  const handlerName = `## ${process.env._HANDLER ?? 'handler'}`;

  const capture = <T>(name: string, work: (subsegment: Subsegment | undefined) => Promise<T>): Promise<T> =>
    xray.provider.captureAsyncFunc(name, async (subsegment?: Subsegment) => {
      try {
        return await work(subsegment);
      } catch (error) {
        // An image the caller sent that failed (a 400 for the request) is an error, not a fault.
        if (error instanceof ImageError) {
          subsegment?.addErrorFlag();
          subsegment?.addAnnotation('ImageError', error.code);
        } else subsegment?.addError(error as Error);
        throw error;
      } finally {
        subsegment?.close();
      }
    }) as Promise<T>;

  return {
    invocation: (work) =>
      capture(handlerName, async (subsegment) => {
        xray.annotateColdStart();
        xray.addServiceNameAnnotation();
        const response = await work();
        if (response.statusCode >= 500) subsegment?.addFaultFlag();
        else if (response.statusCode >= 400) subsegment?.addErrorFlag();
        return response;
      }),
    trace: (name, work) => capture(`### ${name}`, () => work()),
  };
}

/** X-Ray's subsegment, as Powertools hands it over (the X-Ray SDK is its dependency, not ours). */
type Subsegment = NonNullable<Parameters<Parameters<Tracer['provider']['captureAsyncFunc']>[1]>[0]>;

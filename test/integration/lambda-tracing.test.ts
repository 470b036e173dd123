/**
 * X-Ray tracing of the predict function with the real Powertools Tracer and X-Ray SDK, the AWS side
 * simulated: the Lambda environment (LAMBDA_TASK_ROOT, AWS_EXECUTION_ENV, the invocation's
 * _X_AMZN_TRACE_ID) is set here, and the X-Ray daemon is a UDP socket on 127.0.0.1 that records the
 * subsegments the SDK sends. Its own test file: the SDK reads the environment when it loads.
 */
import assert from 'node:assert/strict';
import { type Socket, createSocket } from 'node:dgram';
import type { IncomingHttpHeaders } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { LambdaHandler } from '../../lib/lambda/http-function.ts';
import { MODEL_DIR, readFixture, modelSizedJpegBase64 } from '../helpers/fixtures.ts';
import { type TestServer, startHttpServer } from '../helpers/http-server.ts';
import { captureOutput, httpApiEvent, lambdaContext } from '../helpers/lambda.ts';

const TRACE_ROOT = '1-6759e988-bd862e3fe1be46a994272793';
const LAMBDA_SEGMENT = '53995c3f42cd8ad8'; // the segment Lambda opens for the invocation

interface Subsegment {
  id: string;
  name: string;
  parent_id: string;
  trace_id: string;
  annotations?: Record<string, unknown>;
  error?: boolean;
  fault?: boolean;
}

describe('X-Ray tracing (Powertools Tracer; Lambda environment and X-Ray daemon simulated)', () => {
  let daemon: Socket;
  const received: Subsegment[] = [];
  let origin: TestServer;
  const originHeaders: IncomingHttpHeaders[] = [];
  let handler: LambdaHandler;
  let small: string;

  before(async () => {
    daemon = createSocket('udp4');
    // Each datagram: a JSON header line, then one (sub)segment as JSON.
    daemon.on('message', (message) => received.push(JSON.parse(message.toString().split('\n')[1]!)));
    await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
    Object.assign(process.env, {
      LAMBDA_TASK_ROOT: '/var/task',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
      _X_AMZN_TRACE_ID: `Root=${TRACE_ROOT};Parent=${LAMBDA_SEGMENT};Sampled=1`,
      _HANDLER: 'dist/predict.handler',
    });
    origin = await startHttpServer(async (req, res) => {
      originHeaders.push(req.headers);
      if (req.url === '/owl.jpg') res.end(await readFixture('owl.jpg'));
      else res.writeHead(404).end();
    });
    small = await modelSizedJpegBase64('owl.jpg');
    // As serverless.yml configures the function with tracing=true.
    const { initPredictFunction } = await import('../../lib/lambda/init.ts');
    const { createPredictHandler } = await import('../../lib/lambda/predict-function.ts');
    const deps = await initPredictFunction({
      MODEL_DIR,
      ALLOW_PRIVATE_URLS: 'true',
      LOG_LEVEL: 'SILENT',
      POWERTOOLS_TRACE_ENABLED: 'true',
    });
    assert.ok(deps.tracing, 'tracing is on in (simulated) Lambda with POWERTOOLS_TRACE_ENABLED=true');
    handler = createPredictHandler(deps);
  });
  after(async () => {
    daemon.close();
    await origin.close();
  });

  /** Invokes the handler and returns the subsegments the daemon got for it. */
  async function traced(images: object[]): Promise<{ status: number; segments: Subsegment[] }> {
    received.length = 0;
    const event = httpApiEvent('POST', '/v1/predict', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ images }),
    });
    const { result } = await captureOutput(() => handler(event, lambdaContext()));
    const deadline = Date.now() + 2_000;
    while (!received.some((s) => s.name.startsWith('## ')) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    return { status: result.statusCode, segments: [...received] };
  }

  test('one subsegment per invocation, and one per download, decode and inference under it', async () => {
    const { status, segments } = await traced([{ url: origin.url('/owl.jpg') }, { data: small }]);
    assert.equal(status, 200);
    const root = segments.find((s) => s.name === '## dist/predict.handler');
    assert.ok(root, `no handler subsegment in ${JSON.stringify(segments)}`);
    assert.equal(root.parent_id, LAMBDA_SEGMENT);
    assert.equal(root.trace_id, TRACE_ROOT);
    assert.deepEqual(root.annotations, { ColdStart: true, Service: 'image-classifier' });
    const stages = segments.filter((s) => s !== root);
    assert.deepEqual(stages.map((s) => s.name).sort(), ['### decode', '### decode', '### download', '### inference']);
    for (const stage of stages) {
      assert.equal(stage.parent_id, root.id, stage.name);
      assert.equal(stage.trace_id, TRACE_ROOT, stage.name);
      assert.equal(stage.fault ?? stage.error, undefined, stage.name);
    }
    // Outgoing requests are not instrumented: the caller's origin gets no trace header of ours.
    assert.equal(originHeaders.at(-1)?.['x-amzn-trace-id'], undefined);
  });

  test('the next invocation is no cold start; a failed image marks its download and the invocation', async () => {
    const { status, segments } = await traced([{ url: origin.url('/missing.jpg') }]);
    assert.equal(status, 400);
    const root = segments.find((s) => s.name === '## dist/predict.handler');
    assert.equal(root?.annotations?.ColdStart, false);
    assert.deepEqual([root?.error, root?.fault], [true, undefined], 'a 400 is an error, not a fault');
    const download = segments.find((s) => s.name === '### download');
    assert.equal(download?.error, true);
    assert.equal(download?.fault, undefined);
    assert.ok(String(download?.annotations?.ImageError).startsWith('DOWNLOAD_'), JSON.stringify(download));
    assert.equal(
      segments.some((s) => s.name === '### decode' || s.name === '### inference'),
      false,
    );
  });
});

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { describe, test } from 'node:test';
import { CONFIG_SCHEMA } from '../../lib/config.ts';
import { routeKey, routesOf } from '../../lib/routes.ts';
import { ROOT } from '../helpers/process.ts';

/**
 * Runs the pinned framework CLI (osls) as a user would, through npx. Its stdin is empty: `invoke
 * local` without --path reads the event from a stdin that is not a terminal, and would wait on a pipe.
 */
async function serverless(...args: string[]): Promise<string> {
  const { stdout, stderr, code } = await run(args);
  assert.equal(code, 0, `serverless ${args.join(' ')} exited with ${code}:\n${stderr.slice(-2000)}`);
  return stdout;
}

async function run(args: string[]): Promise<{ stdout: string; stderr: string; code: unknown }> {
  const child = spawn('npx', ['--no-install', 'serverless', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SLS_TELEMETRY_DISABLED: '1' },
  });
  const [stdout, stderr, code] = await Promise.all([
    text(child.stdout),
    text(child.stderr),
    new Promise((resolve) => child.on('close', resolve)),
  ]);
  return { stdout, stderr, code };
}

/** A `print` that must fail: its exit code is not 0, and its output says why. */
async function printFails(...args: string[]): Promise<string> {
  const { stdout, stderr, code } = await run(['print', '--format', 'json', ...args]);
  assert.notEqual(code, 0, `serverless print ${args.join(' ')} succeeded`);
  return stdout + stderr;
}

/**
 * The CloudFormation template `serverless package` compiles, offline: the `local` stage only, whose
 * functions are handler bundles. The image stages cannot be packaged offline (docker build and an
 * ECR login), but the API, its stage, routes and authorizers, and the functions' concurrency and
 * tracing compile the same for both kinds of artifact.
 */
async function compiledTemplate(...params: string[]): Promise<Record<string, { Type: string; Properties: any }>> {
  return (await compiledStack(...params)).Resources;
}

type Template = {
  Parameters?: Record<string, { Default?: string }>;
  Conditions?: Record<string, unknown>;
  Resources: Record<string, { Type: string; Properties: any; Condition?: string; DependsOn?: string[] }>;
  Outputs: Record<string, { Value: unknown }>;
};

const packaged = new Map<string, Promise<Template>>();

/** The whole compiled template; the same params are packaged (and linted) once per test file. */
function compiledStack(...params: string[]): Promise<Template> {
  const key = params.join('\n');
  if (!packaged.has(key)) packaged.set(key, packageTemplate(params));
  return packaged.get(key)!;
}

async function packageTemplate(params: string[]): Promise<Template> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sls-package-'));
  try {
    await serverless('package', '--stage', 'local', '--package', dir, ...params.map((p) => `--param=${p}`));
    const file = path.join(dir, 'cloudformation-template-update-stack.json');
    await cfnLint(file);
    return JSON.parse(await readFile(file, 'utf8'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A template's values as CloudFormation would resolve them with the parameters' defaults (what osls
 * deploys): conditions evaluated, Fn::If, Fn::Join and Refs to parameters and AWS::Partition
 * resolved; a Ref or GetAtt of a resource stays a readable placeholder (`<Queue>`, `<Queue.Arn>`).
 */
function resolver(template: Template) {
  const resolve = (value: any): any => {
    if (Array.isArray(value)) return value.map(resolve);
    if (typeof value !== 'object' || value === null) return value;
    if ('Ref' in value) {
      if (value.Ref === 'AWS::Partition') return 'aws';
      const parameter = template.Parameters?.[value.Ref];
      return parameter ? (parameter.Default ?? '') : `<${value.Ref}>`;
    }
    if ('Fn::GetAtt' in value) return `<${value['Fn::GetAtt'].join('.')}>`;
    if ('Fn::Join' in value) {
      const [separator, parts] = value['Fn::Join'];
      return resolve(parts).join(separator);
    }
    if ('Fn::If' in value) {
      const [condition, yes, no] = value['Fn::If'];
      return resolve(holds(condition) ? yes : no);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
  };
  const holds = (name: string): boolean => {
    const condition = template.Conditions?.[name] as { 'Fn::Equals': [unknown, unknown] };
    assert.ok(condition && 'Fn::Equals' in condition, `condition ${name}`);
    const [a, b] = resolve(condition['Fn::Equals']);
    return a === b;
  };
  /** The resources the stack would create (those whose condition holds), resolved. */
  const resources = () =>
    Object.fromEntries(
      Object.entries(template.Resources)
        .filter(([, resource]) => !resource.Condition || holds(resource.Condition))
        .map(([name, resource]) => [name, resolve(resource)]),
    );
  return { resolve, holds, resources };
}

/**
 * cfn-lint on a compiled template, where it is installed (CI's .venv, or on the PATH). W3005 is
 * osls's own: it adds a DependsOn that a Ref already implies.
 */
async function cfnLint(file: string): Promise<void> {
  const venv = path.join(ROOT, '.venv', 'bin', 'cfn-lint');
  const command = existsSync(venv) ? venv : 'cfn-lint';
  const child = spawn(command, ['--ignore-checks', 'W3005', '--', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const [stdout, code] = await Promise.all([
    text(child.stdout),
    new Promise((resolve) => {
      child.on('close', resolve);
      child.on('error', () => resolve('absent'));
    }),
  ]);
  if (code === 'absent') return; // not installed here: .ci/run installs it
  assert.equal(code, 0, `cfn-lint found problems in the compiled template:\n${stdout}`);
}

type HttpApiEvent = { httpApi: string | { method: string; path: string; authorizer?: unknown } };

/** A function's httpApi events as route key -> authorizer (null: none), whichever form each is written in. */
function routesWithAuthorizers(fn: { events: HttpApiEvent[] }): Record<string, unknown> {
  return Object.fromEntries(
    fn.events.map(({ httpApi }) =>
      typeof httpApi === 'string' ? [httpApi, null] : [`${httpApi.method} ${httpApi.path}`, httpApi.authorizer ?? null],
    ),
  );
}

const PREDICT_ROUTES = ['POST /v1/predict', 'GET /health/ready', 'GET /v1/models'];

const printed = new Map<string, Promise<string>>();

/** The resolved configuration; the same arguments are printed once per test file (osls takes seconds). */
async function print(...args: string[]): Promise<any> {
  const key = args.join('\n');
  if (!printed.has(key)) printed.set(key, serverless('print', '--format', 'json', ...args));
  return JSON.parse(await printed.get(key)!);
}

/** The response `invoke local` prints last, as indented JSON, after the function's own log lines. */
function invokeResult(stdout: string): { statusCode: number; headers: Record<string, string>; body: string } {
  const lines = stdout.split('\n');
  const start = lines.lastIndexOf('{');
  assert.ok(start >= 0, `no result in:\n${stdout.slice(-2000)}`);
  return JSON.parse(lines.slice(start).join('\n'));
}

describe('serverless.yml (osls, offline)', () => {
  test('prints the dev stage: two image functions, their routes, and the default params', async () => {
    const config = await print('--stage', 'dev');
    assert.equal(config.provider.stage, 'dev');
    assert.equal(config.provider.region, 'us-east-1');
    assert.equal(config.provider.runtime, 'nodejs22.x');
    assert.deepEqual(config.provider.ecr.images.classifier, {
      path: './',
      file: 'Dockerfile',
      buildOptions: ['--target', 'lambda'],
      buildArgs: { MODEL_DIR: 'models/mobilenet_v2' },
      platform: 'linux/amd64',
      provenance: 'false',
    });
    assert.equal(config.provider.environment.MODEL_DIR, 'models/mobilenet_v2');
    const { predict, health } = config.functions;
    assert.deepEqual(predict.image, { name: 'classifier', command: ['dist/predict.handler'] });
    assert.deepEqual(health.image, { name: 'classifier', command: ['dist/health.handler'] });
    assert.equal(predict.handler, null);
    // API Gateway routes exactly the route table's routes, each to its function.
    for (const [name, fn] of [
      ['predict', predict],
      ['health', health],
    ] as const) {
      assert.deepEqual(Object.keys(routesWithAuthorizers(fn)).sort(), routesOf(name).map(routeKey).sort(), name);
    }
    assert.equal(predict.memorySize, 2048);
    assert.ok(predict.timeout <= 29, 'within API Gateway’s 30 s');
    assert.equal(predict.provisionedConcurrency, 0);
    assert.equal(config.provider.logRetentionInDays, 14);
  });

  test('prints the prod stage with its own params, and takes a param from the command line', async () => {
    const config = await print(
      '--stage',
      'prod',
      '--region',
      'eu-west-1',
      '--param',
      'predictProvisionedConcurrency=2',
    );
    assert.equal(config.provider.region, 'eu-west-1');
    assert.equal(config.functions.predict.memorySize, 3008);
    assert.equal(config.provider.logRetentionInDays, 90);
    assert.equal(config.functions.predict.provisionedConcurrency, 2);
    assert.equal(config.functions.predict.name, 'image-classifier-prod-predict');
  });

  test('builds and names your own model folder from one param (modelDir)', async () => {
    const config = await print('--stage', 'dev', '--param', 'modelDir=models/mine');
    assert.deepEqual(config.provider.ecr.images.classifier.buildArgs, { MODEL_DIR: 'models/mine' });
    assert.equal(config.provider.environment.MODEL_DIR, 'models/mine');
  });

  test('configures the functions with the same setting names as the server', async () => {
    const config = await print('--stage', 'dev');
    const names = Object.keys(config.provider.environment);
    assert.ok(names.length > 5);
    for (const name of names) assert.ok(name in CONFIG_SCHEMA, `${name} is not a setting of lib/config.ts`);
  });

  // Only `print`s: they can run side by side.
  describe('who may call it (param authorizer: none, iam or jwt)', { concurrency: true }, () => {
    test('by default (none) no route has an authorizer and none is defined: open to anyone with the URL', async () => {
      const config = await print('--stage', 'dev');
      assert.equal(config.params.default.authorizer, 'none');
      for (const fn of ['predict', 'health']) {
        for (const [route, authorizer] of Object.entries(routesWithAuthorizers(config.functions[fn])))
          assert.equal(authorizer, null, route);
      }
      assert.equal(config.provider.httpApi.authorizers ?? null, null);
    });

    test('jwt: a JWT authorizer (issuer, audience) on the predict routes only; GET /health stays open', async () => {
      const config = await print(
        '--stage',
        'dev',
        '--param=authorizer=jwt',
        '--param=jwtIssuer=https://issuer.example',
        '--param=jwtAudience=my-client',
      );
      assert.deepEqual(
        routesWithAuthorizers(config.functions.predict),
        Object.fromEntries(PREDICT_ROUTES.map((route) => [route, { name: 'jwt' }])),
      );
      assert.deepEqual(routesWithAuthorizers(config.functions.health), { 'GET /health': null });
      const { jwt, ...others } = config.provider.httpApi.authorizers;
      assert.deepEqual(others, {});
      assert.deepEqual(
        { ...jwt, audience: [jwt.audience].flat() },
        {
          type: 'jwt',
          identitySource: '$request.header.Authorization',
          issuerUrl: 'https://issuer.example',
          audience: ['my-client'],
        },
      );
    });

    test('iam: aws_iam (SigV4) on the predict routes only, and no authorizer to define', async () => {
      const config = await print('--stage', 'dev', '--param=authorizer=iam');
      assert.deepEqual(
        routesWithAuthorizers(config.functions.predict),
        Object.fromEntries(PREDICT_ROUTES.map((route) => [route, { type: 'aws_iam' }])),
      );
      assert.deepEqual(routesWithAuthorizers(config.functions.health), { 'GET /health': null });
      assert.equal(config.provider.httpApi.authorizers ?? null, null);
    });

    test('a misspelt authorizer, or jwt without issuer or audience, fails instead of deploying open', async () => {
      assert.match(await printFails('--stage', 'dev', '--param=authorizer=JWT'), /custom\.authorizer\b/);
      assert.match(await printFails('--stage', 'dev', '--param=authorizer=jwt'), /issuerUrl/);
      assert.match(
        await printFails('--stage', 'dev', '--param=authorizer=jwt', '--param=jwtIssuer=https://issuer.example'),
        /audience/,
      );
    });
  });

  // Only `print`s: they can run side by side.
  describe('what it may cost (throttling, reserved concurrency)', { concurrency: true }, () => {
    test('stage throttling by default, 10 requests/s with bursts of 20, on the generated HttpApiStage', async () => {
      const dev = await print('--stage', 'dev');
      assert.deepEqual(dev.resources.extensions.HttpApiStage.Properties.DefaultRouteSettings, {
        DetailedMetricsEnabled: false,
        ThrottlingRateLimit: 10,
        ThrottlingBurstLimit: 20,
      });
      const custom = await print('--stage', 'prod', '--param=throttleRate=50', '--param=throttleBurst=100');
      const settings = custom.resources.extensions.HttpApiStage.Properties.DefaultRouteSettings;
      // Command-line params stay strings here; CloudFormation reads them as numbers.
      assert.deepEqual([Number(settings.ThrottlingRateLimit), Number(settings.ThrottlingBurstLimit)], [50, 100]);
    });

    test('reservedConcurrency: absent by default and with 0 (0 would disable the function), else set', async () => {
      for (const args of [[], ['--param=predictReservedConcurrency=0']]) {
        const config = await print('--stage', 'dev', ...args);
        assert.equal(config.functions.predict.reservedConcurrency ?? null, null, args.join(' '));
        assert.equal(config.functions.health.reservedConcurrency, undefined);
      }
      const reserved = await print('--stage', 'dev', '--param=predictReservedConcurrency=5');
      assert.equal(reserved.functions.predict.reservedConcurrency, 5);
    });
  });

  // Only `print`s: they can run side by side.
  describe('observability', { concurrency: true }, () => {
    test('HTTP API access logs: one JSON object per request, with the stage’s retention', async () => {
      const config = await print('--stage', 'prod');
      const format = JSON.parse(config.provider.logs.httpApi.format);
      assert.deepEqual(
        Object.fromEntries(
          ['requestId', 'routeKey', 'status', 'responseLatency', 'integrationErrorMessage', 'errorType'].map((k) => [
            k,
            format[k],
          ]),
        ),
        {
          requestId: '$context.requestId',
          routeKey: '$context.routeKey',
          status: '$context.status',
          responseLatency: '$context.responseLatency',
          integrationErrorMessage: '$context.integrationErrorMessage',
          errorType: '$context.error.responseType',
        },
      );
      // Every value quoted: API Gateway writes "-" for a missing one, which would break a bare number.
      for (const [key, value] of Object.entries(format)) assert.equal(typeof value, 'string', key);
      assert.equal(config.provider.logRetentionInDays, 90, 'osls gives the access log group this retention');
    });

    test('X-Ray tracing off by default, on with the tracing param', async () => {
      const off = await print('--stage', 'dev');
      assert.equal(off.provider.tracing.lambda, false);
      assert.equal(off.functions.predict.environment.POWERTOOLS_TRACE_ENABLED, 'false');
      const on = await print('--stage', 'dev', '--param=tracing=true');
      assert.equal(on.provider.tracing.lambda, true);
      assert.equal(on.functions.predict.environment.POWERTOOLS_TRACE_ENABLED, 'true');
    });
  });

  describe('compiled CloudFormation (serverless package, local stage, offline; cfn-lint where installed)', () => {
    test('default: no authorizer, reservation or tracing; throttling on the stage; JSON access logs', async () => {
      const resources = await compiledTemplate();
      const byType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
      assert.deepEqual(byType('AWS::ApiGatewayV2::Authorizer'), []);
      for (const [name, route] of byType('AWS::ApiGatewayV2::Route'))
        assert.equal(route.Properties.AuthorizationType, undefined, name);
      const predict = resources.PredictLambdaFunction!.Properties;
      assert.equal('ReservedConcurrentExecutions' in predict, false);
      assert.equal(predict.TracingConfig, undefined);
      const stage = resources.HttpApiStage!.Properties;
      assert.deepEqual(stage.DefaultRouteSettings, {
        DetailedMetricsEnabled: false,
        ThrottlingRateLimit: 10,
        ThrottlingBurstLimit: 20,
      });
      assert.deepEqual(stage.AccessLogSettings.DestinationArn, { 'Fn::GetAtt': ['HttpApiLogGroup', 'Arn'] });
      assert.equal(JSON.parse(stage.AccessLogSettings.Format).requestId, '$context.requestId');
      assert.deepEqual(resources.HttpApiLogGroup!.Properties, {
        LogGroupName: '/aws/http-api/image-classifier-local',
        RetentionInDays: 14,
      });
    });

    test('jwt, reserved concurrency and tracing: each where it belongs', async () => {
      const resources = await compiledTemplate(
        'authorizer=jwt',
        'jwtIssuer=https://issuer.example',
        'jwtAudience=my-client',
        'predictReservedConcurrency=3',
        'tracing=true',
      );
      assert.deepEqual(resources.HttpApiAuthorizerJwt!.Properties, {
        ApiId: { Ref: 'HttpApi' },
        Name: 'jwt',
        IdentitySource: ['$request.header.Authorization'],
        AuthorizerType: 'JWT',
        JwtConfiguration: { Audience: ['my-client'], Issuer: 'https://issuer.example' },
      });
      const routes = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route');
      assert.deepEqual(
        Object.fromEntries(routes.map((r) => [r.Properties.RouteKey, r.Properties.AuthorizationType ?? null])),
        { ...Object.fromEntries(PREDICT_ROUTES.map((route) => [route, 'JWT'])), 'GET /health': null },
      );
      const predict = resources.PredictLambdaFunction!.Properties;
      assert.equal(predict.ReservedConcurrentExecutions, 3);
      assert.deepEqual(predict.TracingConfig, { Mode: 'Active' });
      assert.equal(predict.Environment.Variables.POWERTOOLS_TRACE_ENABLED, 'true');
      assert.equal(resources.HealthLambdaFunction!.Properties.ReservedConcurrentExecutions, undefined);
      const policies = JSON.stringify(resources.IamRoleLambdaExecution!.Properties.Policies);
      assert.match(policies, /xray:PutTraceSegments/);
    });

    test('iam: AWS_IAM on the predict routes, no authorizer resource', async () => {
      const resources = await compiledTemplate('authorizer=iam');
      const routes = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route');
      assert.deepEqual(
        Object.fromEntries(routes.map((r) => [r.Properties.RouteKey, r.Properties.AuthorizationType ?? null])),
        { ...Object.fromEntries(PREDICT_ROUTES.map((route) => [route, 'AWS_IAM'])), 'GET /health': null },
      );
      assert.equal(
        Object.values(resources).some((r) => r.Type === 'AWS::ApiGatewayV2::Authorizer'),
        false,
      );
    });
  });

  // Independent, and most of their time is osls and cfn-lint in child processes: side by side.
  describe('batch jobs: the batch function, its queue, buckets and role', { concurrency: true }, () => {
    const BUCKET_SETTINGS = {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    };
    const SQS_ACTIONS = [
      'sqs:ReceiveMessage',
      'sqs:DeleteMessage',
      'sqs:ChangeMessageVisibility',
      'sqs:GetQueueAttributes',
    ];
    /** The statements of a role's inline policies, as Effect, Action and Resource. */
    const statementsOf = (role: { Properties: { Policies: Array<{ PolicyDocument: { Statement: any[] } }> } }) =>
      role.Properties.Policies.flatMap((policy) => policy.PolicyDocument.Statement);

    test('prints the batch function: the same image, command dist/batch.handler, params, own role', async () => {
      const config = await print('--stage', 'dev');
      const { batch } = config.functions;
      assert.deepEqual(batch.image, { name: 'classifier', command: ['dist/batch.handler'] });
      assert.equal(batch.handler, null);
      assert.deepEqual([batch.memorySize, batch.timeout], [3008, 300]);
      assert.equal(batch.reservedConcurrency ?? null, null);
      assert.equal(batch.role, 'BatchFunctionRole');
      // No osls `sqs` event: osls would grant the queue to the shared role of predict and health too.
      assert.deepEqual(batch.events ?? [], []);
      assert.deepEqual([config.functions.predict.role, config.functions.health.role], [undefined, undefined]);
      const local = await print('--stage', 'local');
      assert.equal(local.functions.batch.handler, 'handlers/batch.handler');
      const reserved = await print('--stage', 'dev', '--param=batchReservedConcurrency=4');
      assert.equal(reserved.functions.batch.reservedConcurrency, 4);
    });

    test('a batchTimeout without a visibility timeout of 6 times it fails instead of deploying', async () => {
      assert.match(await printFails('--stage', 'dev', '--param=batchTimeout=301'), /VisibilityTimeout/);
    });

    test('compiled, default: SQS event source with ReportBatchItemFailures, queue, DLQ, buckets, outputs', async () => {
      const template = await compiledStack();
      const { resources, resolve } = resolver(template);
      const created = resources();
      const fn = created.BatchLambdaFunction!.Properties;
      assert.equal(fn.Role, '<BatchFunctionRole.Arn>');
      assert.deepEqual([fn.MemorySize, fn.Timeout], [3008, 300]);
      assert.equal('ReservedConcurrentExecutions' in fn, false);
      assert.equal(fn.Handler, 'handlers/batch.handler'); // the local stage; image stages run dist/batch.handler

      const mappings = Object.values(created).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
      assert.deepEqual(
        mappings.map((m) => m.Properties),
        [
          {
            EventSourceArn: '<BatchQueue.Arn>',
            FunctionName: '<BatchLambdaFunction.Arn>',
            BatchSize: 1,
            FunctionResponseTypes: ['ReportBatchItemFailures'],
            ScalingConfig: { MaximumConcurrency: 5 },
            Enabled: true,
          },
        ],
      );
      const queue = created.BatchQueue!.Properties;
      assert.ok(queue.VisibilityTimeout >= 6 * fn.Timeout, `visibility ${queue.VisibilityTimeout} s`);
      assert.deepEqual(queue.RedrivePolicy, { deadLetterTargetArn: '<BatchDeadLetterQueue.Arn>', maxReceiveCount: 3 });
      const deadLetters = created.BatchDeadLetterQueue!.Properties;
      assert.equal(deadLetters.MessageRetentionPeriod, 14 * 24 * 3600);
      assert.ok(deadLetters.MessageRetentionPeriod > queue.MessageRetentionPeriod);

      for (const name of ['BatchInputS3Bucket', 'BatchOutputS3Bucket']) {
        const bucket = created[name] as unknown as { Properties: any; DeletionPolicy: string };
        assert.ok(bucket, `${name} is created`);
        assert.deepEqual(
          bucket.Properties.PublicAccessBlockConfiguration,
          BUCKET_SETTINGS.PublicAccessBlockConfiguration,
        );
        assert.deepEqual(bucket.Properties.BucketEncryption, BUCKET_SETTINGS.BucketEncryption);
        assert.equal(bucket.DeletionPolicy, 'Retain');
      }
      assert.deepEqual(
        Object.fromEntries(
          ['BatchQueueUrl', 'BatchDeadLetterQueueUrl', 'BatchInputBucket', 'BatchOutputBucket'].map((name) => [
            name,
            resolve(template.Outputs[name]?.Value),
          ]),
        ),
        {
          BatchQueueUrl: '<BatchQueue>',
          BatchDeadLetterQueueUrl: '<BatchDeadLetterQueue>',
          BatchInputBucket: '<BatchInputS3Bucket>',
          BatchOutputBucket: '<BatchOutputS3Bucket>',
        },
      );
    });

    test('compiled: the batch role reads the input, writes the output, uses the queue; others only log', async () => {
      const created = resolver(await compiledStack()).resources();
      const role = created.BatchFunctionRole!;
      assert.deepEqual(statementsOf(role), [
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: '<BatchLogGroup.Arn>' },
        { Effect: 'Allow', Action: 's3:ListBucket', Resource: '<BatchInputS3Bucket.Arn>' },
        { Effect: 'Allow', Action: 's3:GetObject', Resource: '<BatchInputS3Bucket.Arn>/*' },
        { Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject'], Resource: '<BatchOutputS3Bucket.Arn>/*' },
        { Effect: 'Allow', Action: SQS_ACTIONS, Resource: '<BatchQueue.Arn>' },
      ]);
      assert.deepEqual(role.Properties.ManagedPolicyArns, []);
      assert.deepEqual(role.Properties.AssumeRolePolicyDocument.Statement[0].Principal, {
        Service: ['lambda.amazonaws.com'],
      });
      for (const name of ['PredictLambdaFunction', 'HealthLambdaFunction'])
        assert.equal(created[name]!.Properties.Role, '<IamRoleLambdaExecution.Arn>', name);
      const shared = created.IamRoleLambdaExecution!;
      for (const action of statementsOf(shared).flatMap((statement) => statement.Action))
        assert.match(action, /^logs:/, 'the shared role (predict, health) can only write logs');
      assert.equal(shared.Properties.ManagedPolicyArns, undefined);
    });

    test('compiled with existing buckets and other params: no bucket created, the role names those', async () => {
      const template = await compiledStack(
        'batchInputBucket=my-photos',
        'batchOutputBucket=my.results',
        'batchOutputPrefix=jobs/',
        'batchTimeout=600',
        'batchSize=2',
        'batchMaxConcurrency=20',
        'batchReservedConcurrency=20',
        'batchMemory=10240',
        'tracing=true',
      );
      const { resources, resolve } = resolver(template);
      const created = resources();
      assert.equal(created.BatchInputS3Bucket, undefined);
      assert.equal(created.BatchOutputS3Bucket, undefined);
      const fn = created.BatchLambdaFunction!.Properties;
      assert.deepEqual([fn.MemorySize, fn.Timeout, fn.ReservedConcurrentExecutions], [10240, 600, 20]);
      assert.deepEqual(fn.TracingConfig, { Mode: 'Active' });
      assert.equal(fn.Environment.Variables.POWERTOOLS_TRACE_ENABLED, 'true');
      assert.equal(created.BatchQueue!.Properties.VisibilityTimeout, 3600);
      const [mapping] = Object.values(created).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
      // Command-line params stay strings in resources; CloudFormation reads them as numbers.
      assert.deepEqual(
        [Number(mapping!.Properties.BatchSize), Number(mapping!.Properties.ScalingConfig.MaximumConcurrency)],
        [2, 20],
      );
      const role = created.BatchFunctionRole!;
      assert.deepEqual(
        statementsOf(role).map((statement) => statement.Resource),
        [
          '<BatchLogGroup.Arn>',
          'arn:aws:s3:::my-photos',
          'arn:aws:s3:::my-photos/*',
          'arn:aws:s3:::my.results/jobs/*',
          '<BatchQueue.Arn>',
        ],
      );
      // Lambda refuses active tracing without X-Ray permissions on the role.
      assert.deepEqual(role.Properties.ManagedPolicyArns, ['arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess']);
      assert.deepEqual(
        [resolve(template.Outputs.BatchInputBucket!.Value), resolve(template.Outputs.BatchOutputBucket!.Value)],
        ['my-photos', 'my.results'],
      );
      for (const action of statementsOf(created.IamRoleLambdaExecution!).flatMap((statement) => statement.Action))
        assert.match(action, /^(logs|xray):/, 'the shared role gets X-Ray, and still no S3 or SQS');
    });
  });

  test('invoke local with tracing=true answers: outside Lambda (no X-Ray) Tracer stays off', async () => {
    const response = invokeResult(
      await serverless(
        'invoke',
        'local',
        '--stage',
        'local',
        '--param=tracing=true',
        '-f',
        'predict',
        '--path',
        'test/events/http-api-v2.json',
      ),
    );
    assert.equal(response.statusCode, 200);
  });

  test('swaps the images for the TypeScript handlers in the local stage', async () => {
    const config = await print('--stage', 'local');
    assert.equal(config.functions.predict.handler, 'handlers/predict.handler');
    assert.equal(config.functions.predict.image, null);
  });

  for (const [file, version] of [
    ['http-api-v2.json', 'HTTP API v2'],
    ['http-api-v2-base64.json', 'HTTP API v2, base64 body'],
    ['rest-v1.json', 'REST v1'],
  ]) {
    test(`invoke local runs predict on the ${version} event and prints the real response`, async () => {
      const response = invokeResult(
        await serverless('invoke', 'local', '--stage', 'local', '-f', 'predict', '--path', `test/events/${file}`),
      );
      assert.equal(response.statusCode, 200);
      const body = JSON.parse(response.body);
      assert.equal(body.images[0].name, 'Egyptian_cat');
      assert.equal(body.images[0].predictions.length, 3);
    });
  }

  for (const fn of ['health', 'predict']) {
    test(`invoke local -f ${fn} without --path (no event) answers 400 EVENT_UNSUPPORTED`, async () => {
      const response = invokeResult(await serverless('invoke', 'local', '--stage', 'local', '-f', fn));
      assert.deepEqual([response.statusCode, JSON.parse(response.body).code], [400, 'EVENT_UNSUPPORTED']);
    });
  }

  test('invoke local runs health', async () => {
    const response = invokeResult(
      await serverless('invoke', 'local', '--stage', 'local', '-f', 'health', '--path', 'test/events/health-v2.json'),
    );
    assert.deepEqual([response.statusCode, JSON.parse(response.body)], [200, { message: 'OK' }]);
  });
});

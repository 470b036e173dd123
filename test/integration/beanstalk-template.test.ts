/**
 * The Elastic Beanstalk deployment without AWS: the CloudFormation template's logic, evaluated here
 * for given parameters (conditions, Fn::If, Ref, Sub, rules), and the source bundles
 * deploy/make-bundle.sh writes, read back from the zip. What only AWS can tell (that Beanstalk takes
 * these settings as meant) is listed in the README's Elastic Beanstalk section.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import { parse, parseDocument, type Tags } from 'yaml';
import { ROOT } from '../helpers/process.ts';

const TEMPLATE = path.join(ROOT, 'deploy', 'elastic-beanstalk.yaml');
const MAKE_BUNDLE = path.join(ROOT, 'deploy', 'make-bundle.sh');
const PLATFORM = 'arn:aws:elasticbeanstalk:eu-west-1::platform/Docker running on 64bit Amazon Linux 2023/4.8.0';
const CERTIFICATE = 'arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/image-classifier:3f9c2ab';
/** What every stack is deployed with. */
const REQUIRED = { PlatformArn: PLATFORM, SourceBundleBucket: 'my-bucket', SourceBundleKey: 'bundle-3f9c2ab.zip' };

/** CloudFormation's short forms (!Ref, !If, ...) as the long forms they stand for. */
const SHORT_FORMS = ['Ref', 'Condition', 'Sub', 'If', 'GetAtt', 'Equals', 'Not', 'And', 'Or', 'Join'];
const CLOUDFORMATION_TAGS: Tags = SHORT_FORMS.flatMap((name) => {
  const key = name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`;
  const long = (collection: { toJSON(): unknown }) => ({ [key]: collection.toJSON() });
  return [
    { tag: `!${name}`, resolve: (value: string) => ({ [key]: value }) },
    { tag: `!${name}`, collection: 'seq' as const, resolve: long },
    { tag: `!${name}`, collection: 'map' as const, resolve: long },
  ];
});
/** The pseudo parameters, as in one account and region. */
const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'eu-west-1',
  'AWS::AccountId': '123456789012',
};

const source = await readFile(TEMPLATE, 'utf8');
const document = parseDocument(source, { customTags: CLOUDFORMATION_TAGS });
assert.deepEqual([...document.errors, ...document.warnings], [], 'the template parses cleanly');
const template = document.toJS() as Record<string, any>;
const parameters = template.Parameters as Record<string, Record<string, any>>;

const NO_VALUE = Symbol('AWS::NoValue');

/**
 * Evaluates part of the template as CloudFormation would for these parameters (the others at their
 * defaults): conditions, Fn::If (AWS::NoValue dropping the property or list item), Ref to parameters
 * and pseudo parameters, and Fn::Sub of those. Other references stay as `<Name>`, other Sub
 * variables as written.
 */
function evaluate(node: unknown, given: Record<string, string>): any {
  for (const name of Object.keys(given)) assert.ok(name in parameters, `no parameter ${name}`);
  const value = (name: string): string => {
    if (name in PSEUDO) return PSEUDO[name]!;
    const result = given[name] ?? parameters[name]!.Default;
    assert.notEqual(result, undefined, `parameter ${name} has no value`);
    return String(result);
  };
  const condition = (name: string): boolean => {
    assert.ok(name in template.Conditions, `no condition ${name}`);
    return walk(template.Conditions[name]) as boolean;
  };
  const walk = (item: unknown): unknown => {
    if (Array.isArray(item)) return item.map(walk).filter((element) => element !== NO_VALUE);
    if (item === null || typeof item !== 'object') return item;
    const entries = Object.entries(item);
    const [key, arg] = entries[0] ?? [];
    if (entries.length === 1) {
      switch (key) {
        case 'Ref':
          if (arg === 'AWS::NoValue') return NO_VALUE;
          return arg in parameters || arg in PSEUDO ? value(arg) : `<${arg}>`;
        case 'Condition':
          return condition(arg);
        case 'Fn::If':
          return walk(condition(arg[0]) ? arg[1] : arg[2]);
        case 'Fn::Equals':
          return walk(arg[0]) === walk(arg[1]);
        case 'Fn::Not':
          return walk(arg[0]) !== true;
        case 'Fn::And':
          return arg.every((term: unknown) => walk(term) === true);
        case 'Fn::Or':
          return arg.some((term: unknown) => walk(term) === true);
        case 'Fn::Sub':
          return (arg as string).replace(/\$\{([^}]+)\}/g, (whole, name) =>
            name in parameters || name in PSEUDO ? value(name) : whole,
          );
      }
    }
    return Object.fromEntries(
      entries.map(([field, child]) => [field, walk(child)]).filter(([, child]) => child !== NO_VALUE),
    );
  };
  return walk(node);
}

/** The environment's properties for these parameters, and its option settings by `namespace option`. */
function environment(given: Record<string, string> = {}) {
  const properties = evaluate(template.Resources.Environment.Properties, { ...REQUIRED, ...given });
  const options = new Map<string, string>();
  for (const { Namespace, OptionName, Value } of properties.OptionSettings) {
    const key = `${Namespace} ${OptionName}`;
    assert.ok(!options.has(key), `${key} is set twice`);
    options.set(key, Value);
  }
  return { properties, options };
}

/** Whether CloudFormation would accept these parameters: every rule's assertions hold. */
function rulesAccept(given: Record<string, string>): boolean {
  return Object.values(template.Rules as Record<string, any>).every((rule) =>
    rule.Assertions.every(({ Assert }: { Assert: unknown }) => evaluate(Assert, given) === true),
  );
}

/** The parameter's AllowedPattern (Java regular expressions; these ones read the same in JavaScript). */
function allowed(name: string, value: string): boolean {
  const { AllowedPattern, MaxLength } = parameters[name]!;
  return new RegExp(AllowedPattern).test(value) && (MaxLength === undefined || value.length <= MaxLength);
}

/** The README's Elastic Beanstalk section, its shell commands with their continuation lines joined. */
async function readmeCommands(): Promise<string[]> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.split('\n### Elastic Beanstalk\n')[1]?.split('\n### ')[0];
  assert.ok(section, 'the README has an Elastic Beanstalk section');
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
  return blocks.flatMap((block) => block.replace(/\\\n\s*/g, ' ').split('\n'));
}

describe('deploy/elastic-beanstalk.yaml', () => {
  test('names no environment unless asked, and then only as Beanstalk allows (4 to 40 characters)', () => {
    assert.equal(environment().properties.EnvironmentName, undefined);
    assert.equal(
      environment({ EnvironmentName: 'image-classifier-env' }).properties.EnvironmentName,
      'image-classifier-env',
    );
    assert.ok(parameters.EnvironmentName!.MaxLength <= 40);
    for (const name of ['', 'abcd', 'image-classifier-env', 'a'.repeat(40)])
      assert.ok(allowed('EnvironmentName', name), name);
    for (const name of ['abc', 'a'.repeat(41), '-abcd', 'abcd-', 'ab_cd', 'ab cd']) {
      assert.ok(!allowed('EnvironmentName', name), name);
    }
    // Never derived from another name, which could make it longer than 40 characters.
    assert.doesNotMatch(JSON.stringify(template.Resources.Environment.Properties.EnvironmentName), /Fn::Sub|Fn::Join/);
  });

  test('takes the platform once, as a parameter that routine deploys leave as it is', async () => {
    const { properties } = environment();
    assert.equal(properties.PlatformArn, PLATFORM);
    assert.equal(properties.SolutionStackName, undefined);
    assert.equal(parameters.PlatformArn!.Default, '');
    assert.ok(allowed('PlatformArn', PLATFORM));
    // An older stack keeps its SolutionStackName (create-only) and nothing else changes.
    const legacy = { PlatformArn: '', SolutionStackName: '64bit Amazon Linux 2023 v4.8.0 running Docker' };
    assert.equal(environment(legacy).properties.SolutionStackName, legacy.SolutionStackName);
    assert.equal(environment(legacy).properties.PlatformArn, undefined);
    assert.ok(rulesAccept({ ...REQUIRED }));
    assert.ok(rulesAccept({ ...REQUIRED, ...legacy }));
    assert.ok(!rulesAccept({ ...REQUIRED, SolutionStackName: legacy.SolutionStackName }), 'both');
    assert.ok(!rulesAccept({ ...REQUIRED, PlatformArn: '' }), 'neither');
    // The README looks the platform up once, never inside a deploy, and shows a deploy that names none.
    const deploys = (await readmeCommands()).filter((line) => line.includes('aws cloudformation deploy'));
    assert.ok(deploys.length > 0);
    for (const deploy of deploys) assert.doesNotMatch(deploy, /list-available-solution-stacks|list-platform-versions/);
    assert.ok(
      deploys.some((deploy) => !/PlatformArn|SolutionStackName/.test(deploy)),
      'a routine deploy',
    );
  });

  test('deploys one instance at a time after starting an extra one, and replaces instances one at a time', () => {
    const { options } = environment();
    assert.ok(
      ['RollingWithAdditionalBatch', 'Immutable'].includes(
        options.get('aws:elasticbeanstalk:command DeploymentPolicy')!,
      ),
    );
    assert.equal(options.get('aws:elasticbeanstalk:command BatchSizeType'), 'Fixed');
    assert.equal(options.get('aws:elasticbeanstalk:command BatchSize'), '1');
    const rolling = 'aws:autoscaling:updatepolicy:rollingupdate';
    assert.equal(options.get(`${rolling} RollingUpdateEnabled`), 'true');
    assert.equal(options.get(`${rolling} RollingUpdateType`), 'Health');
    assert.equal(options.get(`${rolling} MaxBatchSize`), '1');
    const inService = Number(options.get(`${rolling} MinInstancesInService`));
    assert.ok(inService >= 1, 'at least one instance in service');
    assert.ok(inService < parameters.MaxInstances!.MinValue, 'below the smallest MaxSize, as Auto Scaling requires');
    assert.equal(options.get('aws:autoscaling:asg MaxSize'), String(parameters.MaxInstances!.Default));
  });

  test('serves HTTPS on 443 only with a certificate, and plain HTTP on 80 as before without one', () => {
    assert.equal(parameters.CertificateArn!.Default, '');
    const plain = environment().options;
    assert.deepEqual(
      [...plain.keys()].filter((key) => key.startsWith('aws:elbv2:listener:')),
      [],
    );
    const https = environment({ CertificateArn: CERTIFICATE }).options;
    assert.equal(https.get('aws:elbv2:listener:443 ListenerEnabled'), 'true');
    assert.equal(https.get('aws:elbv2:listener:443 Protocol'), 'HTTPS');
    assert.equal(https.get('aws:elbv2:listener:443 SSLCertificateArns'), CERTIFICATE);
    assert.match(https.get('aws:elbv2:listener:443 SSLPolicy')!, /^ELBSecurityPolicy-TLS13-/);
    // Port 80 stays as Beanstalk makes it: its redirect comes from the bundle (--https-redirect, below).
    assert.equal(https.get('aws:elbv2:listener:default ListenerEnabled'), undefined);
    assert.ok(allowed('CertificateArn', CERTIFICATE));
    assert.ok(!allowed('CertificateArn', 'my-certificate'));
  });

  test("lets the instances pull the image from ECR, and nothing more than Beanstalk's web tier needs", () => {
    const role = evaluate(template.Resources.InstanceRole.Properties, REQUIRED);
    assert.deepEqual(role.ManagedPolicyArns, [
      'arn:aws:iam::aws:policy/AWSElasticBeanstalkWebTier',
      'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly',
    ]);
    assert.equal(role.Policies, undefined);
  });

  test('passes API keys to the container as API_KEYS, from a NoEcho parameter or from SSM, and none by default', () => {
    const keys = 'k3y-0f-at-least-16-chars,an0ther-key-0f-16+chars';
    assert.equal(parameters.ApiKeys!.NoEcho, true);
    assert.equal(parameters.ApiKeys!.Default, '');
    assert.equal(environment().options.get('aws:elasticbeanstalk:application:environment API_KEYS'), undefined);
    assert.equal(
      environment({ ApiKeys: keys }).options.get('aws:elasticbeanstalk:application:environment API_KEYS'),
      keys,
    );
    const fromSsm = environment({ ApiKeysParameter: '/image-classifier/api-keys:3' }).options;
    assert.equal(
      fromSsm.get('aws:elasticbeanstalk:application:environment API_KEYS'),
      '{{resolve:ssm:/image-classifier/api-keys:3}}',
    );
    assert.ok(!rulesAccept({ ...REQUIRED, ApiKeys: keys, ApiKeysParameter: '/image-classifier/api-keys' }));
    assert.ok(rulesAccept({ ...REQUIRED, ApiKeys: keys }));
    for (const good of ['', keys, 'x'.repeat(16)]) assert.ok(allowed('ApiKeys', good), good);
    for (const bad of ['short', `${'x'.repeat(16)},`, `${'x'.repeat(16)}, ${'y'.repeat(16)}`, `${'x'.repeat(15)} y`]) {
      assert.ok(!allowed('ApiKeys', bad), bad);
    }
    for (const good of ['/image-classifier/api-keys', '/image-classifier/api-keys:12', 'api_keys.v2']) {
      assert.ok(allowed('ApiKeysParameter', good), good);
    }
    assert.ok(!allowed('ApiKeysParameter', '/api-keys:latest'));
    // The keys are in no output.
    assert.doesNotMatch(JSON.stringify(evaluate(template.Outputs, { ...REQUIRED, ApiKeys: keys })), /k3y-0f/);
  });
});

/** The files of a zip archive (not its folder entries) by name: enough of the format for stored and deflated files. */
function unzip(archive: Buffer): Map<string, Buffer> {
  const end = archive.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(end >= 0, 'a zip archive');
  const files = new Map<string, Buffer>();
  let at = archive.readUInt32LE(end + 16);
  for (let count = archive.readUInt16LE(end + 10); count > 0; count--) {
    assert.equal(archive.readUInt32LE(at), 0x02014b50, 'a central directory entry');
    const method = archive.readUInt16LE(at + 10);
    const size = archive.readUInt32LE(at + 20);
    const nameLength = archive.readUInt16LE(at + 28);
    const local = archive.readUInt32LE(at + 42);
    const name = archive.toString('utf8', at + 46, at + 46 + nameLength);
    at += 46 + nameLength + archive.readUInt16LE(at + 30) + archive.readUInt16LE(at + 32);
    if (name.endsWith('/')) continue;
    const start = local + 30 + archive.readUInt16LE(local + 26) + archive.readUInt16LE(local + 28);
    const data = archive.subarray(start, start + size);
    assert.ok(method === 0 || method === 8, `${name}: stored or deflated`);
    files.set(name, method === 0 ? data : inflateRawSync(data));
  }
  return files;
}

describe('deploy/make-bundle.sh', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'make-bundle-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs the script in the temporary folder; its exit code and stderr. */
  async function makeBundle(...args: string[]): Promise<{ code: number | null; stderr: string }> {
    const child = spawn('bash', [MAKE_BUNDLE, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const [, stderr, code] = await Promise.all([
      text(child.stdout),
      text(child.stderr),
      new Promise<number | null>((resolve) => child.on('close', resolve)),
    ]);
    return { code, stderr };
  }

  async function bundle(...args: string[]): Promise<Map<string, Buffer>> {
    const output = `bundle-${Math.random().toString(36).slice(2)}.zip`;
    const { code, stderr } = await makeBundle(...args, output);
    assert.equal(code, 0, stderr);
    return unzip(await readFile(path.join(dir, output)));
  }

  const nginxConf = '.platform/nginx/conf.d/request-size.conf';

  test('writes a Dockerrun.aws.json naming the image and .platform/ (the body limit), nothing else', async () => {
    const files = await bundle('--image', IMAGE);
    assert.deepEqual([...files.keys()].sort(), [nginxConf, 'Dockerrun.aws.json']);
    assert.deepEqual(JSON.parse(files.get('Dockerrun.aws.json')!.toString()), {
      AWSEBDockerrunVersion: '1',
      Image: { Name: IMAGE, Update: 'true' },
      Ports: [{ ContainerPort: 8080 }],
    });
    assert.deepEqual(files.get(nginxConf), await readFile(path.join(ROOT, nginxConf)));
    const digest = `${IMAGE.split(':')[0]}@sha256:${'0'.repeat(64)}`;
    const pinned = await bundle('--image', digest);
    assert.equal(JSON.parse(pinned.get('Dockerrun.aws.json')!.toString()).Image.Name, digest);
  });

  test('--https-redirect adds the load balancer listener that redirects port 80 to HTTPS', async () => {
    const files = await bundle('--https-redirect', '--image', IMAGE);
    assert.deepEqual([...files.keys()].sort(), [
      '.ebextensions/https-redirect.config',
      nginxConf,
      'Dockerrun.aws.json',
    ]);
    const config = parse(files.get('.ebextensions/https-redirect.config')!.toString());
    const listener = config.Resources.AWSEBV2LoadBalancerListener;
    assert.equal(listener.Type, 'AWS::ElasticLoadBalancingV2::Listener');
    assert.deepEqual(listener.Properties.LoadBalancerArn, { Ref: 'AWSEBV2LoadBalancer' });
    assert.equal(listener.Properties.Port, 80);
    assert.deepEqual(listener.Properties.DefaultActions, [
      {
        Type: 'redirect',
        RedirectConfig: {
          Protocol: 'HTTPS',
          Port: '443',
          Host: '#{host}',
          Path: '/#{path}',
          Query: '#{query}',
          StatusCode: 'HTTP_301',
        },
      },
    ]);
  });

  test('refuses an image without a tag or digest, or that JSON would need escaped, writing nothing', async () => {
    for (const image of [IMAGE.split(':')[0]!, 'localhost:5000/image-classifier', `${IMAGE}"`, `${IMAGE} x`, '']) {
      const { code, stderr } = await makeBundle('--image', image, 'refused.zip');
      assert.equal(code, 2, image);
      assert.match(stderr, /make-bundle: /);
    }
    assert.equal((await makeBundle('--image', IMAGE)).code, 2, 'no output');
    assert.equal((await makeBundle('refused.zip')).code, 2, 'no mode');
    await assert.rejects(stat(path.join(dir, 'refused.zip')), { code: 'ENOENT' });
  });

  test('--source zips the repository at HEAD, for instances that build the Dockerfile themselves', async () => {
    const files = await bundle('--source', '--https-redirect');
    for (const name of [
      'Dockerfile',
      'Dockerrun.aws.json',
      'package-lock.json',
      nginxConf,
      '.ebextensions/https-redirect.config',
    ]) {
      assert.ok(files.has(name), name);
    }
    assert.ok(!files.has('.git/HEAD'));
  });
});

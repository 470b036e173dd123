/**
 * The AWS clients of batch jobs, built in one place so every batch module talks to AWS alike. From
 * Config comes only what the SDK does not read itself (S3_FORCE_PATH_STYLE); the SDK reads
 * AWS_ENDPOINT_URL, the credentials (default provider chain) and AWS_REGION, which here falls back
 * to us-east-1 instead of failing when neither the environment nor a profile names one.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Config } from '../config.ts';

/** The region when neither AWS_REGION nor the profile names one. */
export const DEFAULT_REGION = 'us-east-1';

/**
 * Set instead of the SDK's own configuration: tests name an emulator and dummy credentials here
 * rather than changing process.env.
 */
export interface ClientOverrides {
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** The region the SDK finds itself (AWS_REGION, else the profile's), else DEFAULT_REGION; looked up once. */
let sdkRegion: Promise<string> | undefined;
const regionOrDefault = (): Promise<string> =>
  (sdkRegion ??= (async () => {
    const probe = new SQSClient({});
    try {
      return await probe.config.region();
    } catch {
      return DEFAULT_REGION;
    } finally {
      probe.destroy();
    }
  })());

function common(overrides: ClientOverrides) {
  return {
    region: overrides.region ?? regionOrDefault,
    ...(overrides.endpoint !== undefined && { endpoint: overrides.endpoint }),
    ...(overrides.credentials && { credentials: overrides.credentials }),
  };
}

export function createS3Client(config: Pick<Config, 's3ForcePathStyle'>, overrides: ClientOverrides = {}): S3Client {
  return new S3Client({
    ...common(overrides),
    forcePathStyle: config.s3ForcePathStyle,
    // A bucket in another region answers with a redirect; follow it rather than fail.
    followRegionRedirects: true,
  });
}

export function createSqsClient(overrides: ClientOverrides = {}): SQSClient {
  // Requests go to the configured endpoint (AWS_ENDPOINT_URL, else the region's), never to the host
  // a queue URL names: an emulator's CloudFormation may name AWS's own.
  return new SQSClient({ ...common(overrides), useQueueUrlAsEndpoint: false });
}

export function createCloudFormationClient(overrides: ClientOverrides = {}): CloudFormationClient {
  return new CloudFormationClient(common(overrides));
}

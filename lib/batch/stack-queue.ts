/**
 * The batch queue of a deployed stage, so `classify batch submit --stage <name>` needs no URL: the
 * Serverless stack `image-classifier-<stage>` publishes it as the output `BatchQueueUrl`.
 */
import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';

/** The stack output that holds the batch queue's URL (serverless.yml's resources declare it). */
export const BATCH_QUEUE_OUTPUT = 'BatchQueueUrl';

/** The CloudFormation stack Serverless deploys for a stage (service `image-classifier`). */
export const stackName = (stage: string): string => `image-classifier-${stage}`;

/** No such stack, or a stack without the output: the message names both. */
export class StackQueueError extends Error {
  override readonly name = 'StackQueueError';
}

export async function queueUrlOfStage(cloudFormation: CloudFormationClient, stage: string): Promise<string> {
  const StackName = stackName(stage);
  let outputs: Array<{ OutputKey?: string; OutputValue?: string }>;
  try {
    const { Stacks = [] } = await cloudFormation.send(new DescribeStacksCommand({ StackName }));
    outputs = Stacks[0]?.Outputs ?? [];
  } catch (error) {
    // CloudFormation answers a missing stack with a ValidationError "Stack with id ... does not exist".
    if ((error as Error).name === 'ValidationError')
      throw new StackQueueError(`No stack ${StackName}: is stage ${stage} deployed in this region?`, { cause: error });
    throw error;
  }
  const url = outputs.find((output) => output.OutputKey === BATCH_QUEUE_OUTPUT)?.OutputValue;
  if (!url)
    throw new StackQueueError(`The stack ${StackName} has no ${BATCH_QUEUE_OUTPUT} output: is batch deployed there?`);
  return url;
}

/**
 * `npm start`: the HTTP server for laptops and the Elastic Beanstalk container. It listens at once
 * (liveness), loads and warms the model (readiness), and drains on SIGTERM/SIGINT.
 */
import { type Config, ConfigError, loadConfig } from './config.ts';
import { createRuntime } from './runtime.ts';
import { createServer } from './http/server.ts';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(2);
  }
  const runtime = createRuntime(config, { classifier: 'workers' });
  const { logger } = runtime;
  const server = await createServer(runtime);
  await server.app.listen({ port: config.port, host: config.host });
  const address = server.app.server.address();
  logger.info('Listening', {
    host: config.host,
    port: typeof address === 'object' && address ? address.port : config.port,
  });

  let stopping = false;
  const stop = async (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info('Shutting down: draining requests in flight', { signal, drainTimeoutMs: config.drainTimeoutMs });
    const deadline = setTimeout(() => {
      logger.error('Requests still in flight after the drain timeout; exiting anyway', {
        drainTimeoutMs: config.drainTimeoutMs,
      });
      process.exit(1);
    }, config.drainTimeoutMs);
    deadline.unref();
    await server.close();
    await runtime.close();
    logger.info('Stopped');
    process.exit(exitCode);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  // A bug that escapes every handler still drains what is in flight, then exits non-zero.
  const fatal = (kind: string) => (error: unknown) => {
    logger.critical(`${kind}: draining, then exiting`, error instanceof Error ? error : new Error(String(error)));
    void stop(kind, 1);
  };
  process.on('unhandledRejection', fatal('unhandledRejection'));
  process.on('uncaughtException', fatal('uncaughtException'));

  await runtime.loadClassifier().catch(() => process.exit(1));
}

await main();

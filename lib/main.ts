/**
 * `npm start`: the HTTP server for laptops and the Elastic Beanstalk container. It listens at once
 * (liveness), loads and warms the model (readiness), and drains on SIGTERM/SIGINT.
 */
import { ConfigError, loadConfig } from './config.ts';
import { createDownloader, downloadLimits } from './images/download.ts';
import { createImageRetriever } from './images/retrieve.ts';
import { createLogger } from './logger.ts';
import { type Classifier, loadClassifier, serverOptions } from './model/classifier.ts';
import { createServer } from './server.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(2);
  }
  const logger = createLogger(config);
  const downloader = createDownloader(downloadLimits(config));
  if (config.allowPrivateUrls) logger.warn('ALLOW_PRIVATE_URLS is on: URLs may reach loopback, private and link-local addresses');

  let classifier: Classifier | undefined;
  const server = await createServer({ config, logger, retrieve: createImageRetriever(config, downloader), classifier: () => classifier });
  await server.app.listen({ port: config.port, host: config.host });
  const address = server.app.server.address();
  logger.info('Listening', { host: config.host, port: typeof address === 'object' && address ? address.port : config.port });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('Shutting down: draining requests in flight', { signal, drainTimeoutMs: config.drainTimeoutMs });
    const deadline = setTimeout(() => {
      logger.error('Requests still in flight after the drain timeout; exiting anyway', { drainTimeoutMs: config.drainTimeoutMs });
      process.exit(1);
    }, config.drainTimeoutMs);
    deadline.unref();
    await server.close();
    await Promise.all([classifier?.dispose(), downloader.close()]);
    logger.info('Stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));

  try {
    classifier = await loadClassifier(serverOptions(config), logger);
  } catch (error) {
    logger.critical('The model could not be loaded', error as Error);
    process.exit(1);
  }
}

await main();

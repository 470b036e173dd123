/** A real node:http server on an ephemeral loopback port, for download tests. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestServer {
  port: number;
  url(path: string): string;
  close(): Promise<void>;
}

export async function startHttpServer(handler: http.RequestListener, host = '127.0.0.1'): Promise<TestServer> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: (path) => `http://${host}:${port}${path}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Benchmark target: an app from the http kit with one empty JSON route, as every service builds
 * it (request ids, access log line, error handler). Run as its own process so the load generator
 * does not share its event loop. Prints the URL once listening.
 */
import { createApp } from '../../src/common/http/app.ts';
import { createLogger } from '../../src/common/logging.ts';

const app = createApp({
  service: 'bench',
  errorStyle: 'nova',
  // The access line is written as in production, to a file that the OS discards.
  logger: createLogger({ level: 'info', destination: '/dev/null' }),
  requestIdAlias: 'x-compute-request-id',
});
app.get('/', async () => ({}));
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
const port = typeof address === 'object' && address !== null ? address.port : 0;
process.stdout.write(`listening http://127.0.0.1:${port}/\n`);
const stop = (): void => void app.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

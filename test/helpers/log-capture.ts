/** A pino destination that keeps every JSON line, so tests can assert on what was logged. */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/common/logging.ts';

export type CapturedLogs = { logger: Logger; lines: () => Record<string, unknown>[] };

export function captureLogs(): CapturedLogs {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger({ level: 'debug', destination: stream });
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

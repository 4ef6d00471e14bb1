import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InMemoryBroker } from '../../../src/common/messaging/in-memory-broker.ts';
import { InMemoryBus } from '../../../src/common/messaging/in-memory-bus.ts';
import { busConformance } from './bus-conformance.ts';
import { Collector, recordingLogger, TEST_TIMEOUT } from './support.ts';

describe('InMemoryBus', () => {
  describe('conformance', () => {
    // One broker per test file run: every bus of a test shares it, as processes share RabbitMQ.
    const broker = new InMemoryBroker();
    busConformance(() => ({
      open: async (options = {}) => new InMemoryBus({ broker, ...options }),
    }));
  });

  it('drops a call request that expired while no server consumed it', TEST_TIMEOUT, async () => {
    let now = 1_000;
    const broker = new InMemoryBroker({ clock: () => now });
    const logger = recordingLogger();
    const [client, server] = [
      new InMemoryBus({ broker, logger }),
      new InMemoryBus({ broker, logger }),
    ];
    try {
      const handled = new Collector<string>();
      // The queue exists (a server ran once) but nobody consumes it when the call is sent.
      const first = await server.serve({ topic: 'expiry' }, { m: () => handled.push('m') });
      await first.stop();
      await assert.rejects(
        client.call({ topic: 'expiry' }, 'm', {}, { timeoutMs: 50 }),
        /within 50 ms/,
      );
      assert.equal(broker.depth('expiry'), 1);
      now += 51;
      await server.serve({ topic: 'expiry' }, { m: () => handled.push('m') });
      await client.cast({ topic: 'expiry' }, 'm');
      await handled.count(1, 5_000, 'the cast sent after the expired call');
      assert.deepEqual(handled.items, ['m'], 'the expired call never ran');
    } finally {
      await Promise.all([client.close(), server.close()]);
    }
  });

  it('hands a server at most `concurrency` messages at a time', TEST_TIMEOUT, async () => {
    const bus = new InMemoryBus({ logger: recordingLogger() });
    try {
      let running = 0;
      let most = 0;
      const done = new Collector<number>();
      await bus.serve(
        { topic: 'limited' },
        {
          work: async (args) => {
            running += 1;
            most = Math.max(most, running);
            await new Promise((resolve) => setImmediate(resolve));
            running -= 1;
            done.push(Number(args.n));
          },
        },
        { concurrency: 3 },
      );
      for (let n = 0; n < 12; n += 1) await bus.cast({ topic: 'limited' }, 'work', { n });
      await done.count(12, 5_000, 'all casts');
      assert.equal(most, 3);
    } finally {
      await bus.close();
    }
  });
});

/**
 * RabbitMqBus on the real broker: the conformance suite, recovery from connections the broker
 * closes, and startup errors. Needs RabbitMQ at 127.0.0.1:5672 (fails, not skips, without it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from 'amqplib';
import { StartupError } from '../../../src/common/errors.ts';
import { RabbitMqBus } from '../../../src/common/messaging/rabbitmq-bus.ts';
import { busConformance } from './bus-conformance.ts';
import { createTestVhost, unusedPort, type TestVhost } from './rabbitmq-harness.ts';
import { Collector, gate, recordingLogger, TEST_TIMEOUT, uniqueTopic, within } from './support.ts';

describe('RabbitMqBus', { timeout: 60_000 }, () => {
  let vhost: TestVhost | undefined;
  const opened: RabbitMqBus[] = [];
  const url = (): string => {
    if (vhost === undefined) throw new Error('the test vhost was not created');
    return vhost.url;
  };
  const openBus = async (
    options: ConstructorParameters<typeof RabbitMqBus>[1] = {},
  ): Promise<RabbitMqBus> => {
    const bus = new RabbitMqBus(url(), { logger: recordingLogger(), ...options });
    await bus.connect();
    opened.push(bus);
    return bus;
  };

  before(async () => {
    vhost = await createTestVhost();
  });
  after(async () => {
    await Promise.all(opened.splice(0).map((bus) => bus.close()));
    await vhost?.remove();
  });

  describe('conformance', () => {
    busConformance(() => ({
      open: async (options = {}) => {
        const bus = new RabbitMqBus(url(), options);
        await bus.connect();
        return bus;
      },
    }));
  });

  describe('after the broker closes the connections', () => {
    it('resumes servers and consumers, and calls in flight complete', TEST_TIMEOUT, async () => {
      const [server, client] = [await openBus(), await openBus()];
      const topic = uniqueTopic();
      const release = gate();
      const started = new Collector<number>();
      const casts = new Collector<number>();
      const notifications = new Collector<string>();
      await server.serve(
        { topic, server: 'host1' },
        {
          slow: async () => {
            started.push(1);
            await release.wait;
            return 'slow done';
          },
          echo: (args) => args,
          record: (args) => casts.push(Number(args.n)),
        },
      );
      await server.onNotification({ topics: [topic], priorities: ['info'] }, (n) =>
        notifications.push(n.event_type),
      );
      const inFlight = client.call({ topic }, 'slow', {}, { timeoutMs: 8_000 });
      await started.count(1, 5_000, 'the slow call to start');

      const reconnected = Promise.all(
        [server, client].map(
          (bus) =>
            new Promise<void>((resolve) => {
              const off = bus.onConnectionChange((state) => {
                if (state === 'connected') {
                  off();
                  resolve();
                }
              });
            }),
        ),
      );
      const lost = new Collector<string>();
      server.onConnectionChange((state) => lost.push(`server:${state}`));
      await vhost!.closeConnections();
      await lost.until(
        (all) => all.includes('server:disconnected'),
        5_000,
        'the server to see the loss',
      );
      // Sent while the client may still be disconnected: it waits for the connection.
      const castWhileDown = client.cast({ topic }, 'record', { n: 1 }, { durable: true });
      await within(reconnected, 10_000, 'both buses to reconnect');
      release.open();
      assert.equal(await inFlight, 'slow done', 'the call in flight got its reply');
      await castWhileDown;
      await casts.count(1, 5_000, 'the cast sent during the outage');
      assert.deepEqual(await client.call({ topic, server: 'host1' }, 'echo', { after: true }), {
        after: true,
      });
      await client.notify(
        { publisherId: 'p', eventType: 'after.reconnect', priority: 'info', payload: {} },
        { topics: [topic] },
      );
      await notifications.count(1, 5_000, 'a notification after the reconnect');
    });
  });

  describe('what other clients of the broker do', () => {
    it('drops and logs a malformed request, and keeps serving', TEST_TIMEOUT, async () => {
      const logger = recordingLogger();
      const [server, client] = [await openBus({ logger }), await openBus()];
      const topic = uniqueTopic();
      await server.serve({ topic }, { echo: (args) => args });
      const raw = await connect(url());
      try {
        const channel = await raw.createConfirmChannel();
        channel.publish('tstack', topic, Buffer.from('{not json'));
        channel.publish('tstack', topic, Buffer.from('{"kind":"call","method":7}'));
        await channel.waitForConfirms();
      } finally {
        await raw.close();
      }
      await logger.entries.count(2, 5_000, 'two malformed requests logged');
      const dropped = logger.entries.items.map(
        (entry) => `${entry.level} ${entry.message}: ${String(entry.fields.err)}`,
      );
      assert.equal(dropped.length, 2);
      assert.match(
        dropped[0] ?? '',
        /^warn messaging: dropped a malformed request: malformed request: not JSON/,
      );
      assert.equal(
        dropped[1],
        'warn messaging: dropped a malformed request: malformed request: method is not a string',
      );
      assert.deepEqual(await client.call({ topic }, 'echo', { still: 'serving' }), {
        still: 'serving',
      });
    });

    it('a server whose queue was deleted declares it again and goes on', TEST_TIMEOUT, async () => {
      const [server, client] = [await openBus(), await openBus()];
      const topic = uniqueTopic();
      await server.serve({ topic, server: 'h' }, { echo: (args) => args });
      const back = new Promise<void>((resolve) => {
        const off = server.onConnectionChange((state) => {
          if (state === 'connected') {
            off();
            resolve();
          }
        });
      });
      const raw = await connect(url());
      try {
        await (await raw.createChannel()).deleteQueue(`${topic}.h`);
      } finally {
        await raw.close();
      }
      await within(back, 10_000, 'the server to reconnect');
      assert.deepEqual(await client.call({ topic, server: 'h' }, 'echo', { n: 1 }), { n: 1 });
    });
  });

  describe('startup errors', () => {
    const cases: { name: string; url: () => Promise<string>; expected: RegExp; secret: string }[] =
      [
        {
          name: 'an unreachable broker',
          url: async () => `amqp://guest:unreachable-secret@127.0.0.1:${await unusedPort()}/`,
          expected:
            /^cannot reach the message broker at amqp:\/\/guest@127\.0\.0\.1:\d+\/ \(connect ECONNREFUSED 127\.0\.0\.1:\d+\); start RabbitMQ \('rabbitmq-server -detached'\) or fix messaging\.url$/,
          secret: 'unreachable-secret',
        },
        {
          name: 'a wrong password',
          url: async () =>
            `amqp://guest:wrong-secret@127.0.0.1:5672/${encodeURIComponent(vhost!.name)}`,
          expected:
            /^the message broker at amqp:\/\/guest@127\.0\.0\.1:5672\/ts-test-\w+ refused the login of user 'guest'.*fix the user and password in messaging\.url$/,
          secret: 'wrong-secret',
        },
        {
          name: 'a missing vhost',
          url: async () => 'amqp://guest:guest@127.0.0.1:5672/no-such-vhost',
          expected:
            /^the message broker at amqp:\/\/guest@127\.0\.0\.1:5672\/no-such-vhost did not let user 'guest' open virtual host 'no-such-vhost'; create it \('rabbitmqctl add_vhost no-such-vhost'/,
          secret: 'guest:guest',
        },
      ];
    for (const { name, url: makeUrl, expected, secret } of cases) {
      it(`reports ${name} in one line without the password`, TEST_TIMEOUT, async () => {
        const bus = new RabbitMqBus(await makeUrl(), {
          logger: recordingLogger(),
          connectTimeoutMs: 3_000,
        });
        try {
          await assert.rejects(bus.connect(), (err: unknown) => {
            assert.ok(err instanceof StartupError, String(err));
            assert.doesNotMatch(err.message, /\n/);
            assert.ok(!err.message.includes(secret), `password shown: ${err.message}`);
            assert.match(err.message, expected);
            return true;
          });
        } finally {
          await bus.close();
        }
      });
    }
  });
});

/**
 * RabbitMqBus across processes: the servers run in child processes (`fixtures/bus-server.ts`),
 * which the tests kill by PID. Needs RabbitMQ at 127.0.0.1:5672 (fails, not skips, without it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NotFoundError } from '../../../src/common/errors.ts';
import { RabbitMqBus } from '../../../src/common/messaging/rabbitmq-bus.ts';
import {
  createTestVhost,
  startFixture,
  type Fixture,
  type FixtureEvent,
  type TestVhost,
} from './rabbitmq-harness.ts';
import { recordingLogger, uniqueTopic } from './support.ts';

const TEST_TIMEOUT = { timeout: 30_000 };

describe('RabbitMqBus across processes', { timeout: 60_000 }, () => {
  let vhost: TestVhost | undefined;
  let client: RabbitMqBus | undefined;
  const fixtures: Fixture[] = [];
  const start = async (topic: string, server: string): Promise<Fixture> => {
    const fixture = await startFixture(vhost!.url, topic, server);
    fixtures.push(fixture);
    return fixture;
  };

  before(async () => {
    vhost = await createTestVhost();
    client = new RabbitMqBus(vhost.url, { logger: recordingLogger() });
    await client.connect();
  });
  after(async () => {
    try {
      await Promise.all(fixtures.splice(0).map((fixture) => fixture.kill('SIGKILL')));
      await client?.close();
    } finally {
      await vhost?.remove();
    }
  });

  it('call, cast and fanout reach servers in other processes', TEST_TIMEOUT, async () => {
    const topic = uniqueTopic();
    const [a, b] = await Promise.all([start(topic, 'host-a'), start(topic, 'host-b')]);
    const bus = client!;
    assert.equal(await bus.call({ topic, server: 'host-a' }, 'whoami'), 'host-a');
    assert.equal(await bus.call({ topic, server: 'host-b' }, 'pid'), b.process.pid);
    assert.notEqual(b.process.pid, process.pid);
    assert.deepEqual(await bus.call({ topic }, 'echo', { deep: { list: [1, null] } }), {
      deep: { list: [1, null] },
    });
    await assert.rejects(bus.call({ topic }, 'missing', { id: 7 }), (err: unknown) => {
      assert.ok(err instanceof NotFoundError);
      assert.equal(err.code, 'test.thing_not_found');
      assert.equal(err.message, 'no thing 7');
      return true;
    });

    await bus.cast({ topic, server: 'host-b' }, 'record', { n: 1 });
    const isCast = (e: FixtureEvent): boolean => e.event === 'cast';
    assert.deepEqual(
      (await b.events.until((all) => all.some(isCast), 10_000, 'the cast')).filter(isCast),
      [{ event: 'cast', server: 'host-b', args: { n: 1 } }],
    );

    await bus.fanout(topic, 'ping', { n: 2 });
    for (const fixture of [a, b]) {
      await fixture.events.until(
        (all) => all.some((e) => e.event === 'fanout'),
        10_000,
        'the fanout',
      );
    }
    assert.ok(!a.events.items.some(isCast), 'the cast to host-b did not reach host-a');
  });

  it(
    'no durable cast is lost when its server is killed mid-stream and restarted',
    TEST_TIMEOUT,
    async () => {
      const topic = uniqueTopic();
      const target = { topic, server: 'worker' };
      const total = 200;
      const first = await start(topic, 'worker');
      const worked = (fixture: Fixture): Set<number> =>
        new Set(
          fixture.events.items
            .filter((e) => e.event === 'work')
            .map((e) => Number((e.args as { n: number }).n)),
        );

      const sending = (async () => {
        for (let n = 0; n < total; n += 1)
          await client!.cast(target, 'work', { n }, { durable: true });
      })();
      try {
        await first.events.until(
          (all) => all.filter((e) => e.event === 'work').length >= 20,
          10_000,
          '20 casts handled',
        );
        await first.kill('SIGKILL');
      } finally {
        await sending;
      }
      const beforeKill = worked(first);
      assert.ok(
        beforeKill.size < total,
        `the kill came mid-stream (${beforeKill.size} of ${total} done)`,
      );

      const second = await start(topic, 'worker');
      const missing = (): number[] => {
        const seen = new Set([...beforeKill, ...worked(second)]);
        return Array.from({ length: total }, (_, n) => n).filter((n) => !seen.has(n));
      };
      await second.events.until(() => missing().length === 0, 20_000, 'every cast to be handled');
      assert.deepEqual(missing(), []);
    },
  );
});

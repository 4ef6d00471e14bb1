/**
 * The contract of `MessageBus`, run against every driver (`in-memory-bus.test.ts`,
 * `rabbitmq-bus.test.ts`). Each test opens its own buses on one shared broker, the way separate
 * processes would, and uses topics of its own. Negative checks ("X did not get it") send a
 * sentinel after the message and wait for it: a queue is first in, first out, so a message routed
 * to the wrong queue would arrive before its sentinel.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type {
  BusLogger,
  JsonObject,
  JsonValue,
  MessageBus,
  RpcRequest,
  Target,
} from '../../../src/common/messaging/bus.ts';
import {
  MessagingTimeoutError,
  MessagingUnavailableError,
  type RemoteErrorRegistry,
} from '../../../src/common/messaging/errors.ts';
import { remoteErrorConformance } from './bus-conformance-errors.ts';
import { notificationConformance } from './bus-conformance-notifications.ts';
import { Collector, gate, recordingLogger, TEST_TIMEOUT, uniqueTopic } from './support.ts';

export type BusFactory = {
  /** A new bus on the one broker of the suite, as another process would open it. */
  open(options?: { errors?: RemoteErrorRegistry; logger?: BusLogger }): Promise<MessageBus>;
};

export type OpenBus = BusFactory['open'];

export function busConformance(factory: () => BusFactory): void {
  const opened: MessageBus[] = [];
  const open: OpenBus = async (options) => {
    const bus = await factory().open({ logger: recordingLogger(), ...options });
    opened.push(bus);
    return bus;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((bus) => bus.close()));
  });

  describe('call', () => {
    it(
      'returns the reply of a server of the topic, with the caller context',
      TEST_TIMEOUT,
      async () => {
        const [server, client] = [await open(), await open()];
        const topic = uniqueTopic();
        await server.serve(
          { topic },
          {
            add: (args) => Number(args.a) + Number(args.b),
            whoAsked: (_args, request: RpcRequest) => ({
              kind: request.kind,
              method: request.method,
              context: request.context,
            }),
          },
        );
        assert.equal(await client.call({ topic }, 'add', { a: 2, b: 3 }), 5);
        assert.deepEqual(
          await client.call({ topic }, 'whoAsked', {}, { context: { global_request_id: 'req-1' } }),
          {
            kind: 'call',
            method: 'whoAsked',
            context: { global_request_id: 'req-1' },
          },
        );
      },
    );

    it('carries JSON values unchanged, and an undefined reply as null', TEST_TIMEOUT, async () => {
      const [server, client] = [await open(), await open()];
      const topic = uniqueTopic();
      await server.serve({ topic }, { echo: (args) => args, nothing: () => undefined });
      const cases: JsonObject[] = [
        {},
        { nested: { list: [1, 'two', null, true, { deep: [[]] }] } },
        { unicode: 'Zürich ☃ 日本', empty: '', zero: 0, negative: -1.5, big: 2 ** 52 },
      ];
      for (const args of cases) assert.deepEqual(await client.call({ topic }, 'echo', args), args);
      assert.equal(await client.call({ topic }, 'nothing'), null);
    });

    it('to topic.server reaches that server only', TEST_TIMEOUT, async () => {
      const topic = uniqueTopic();
      for (const name of ['a', 'b']) {
        await (await open()).serve({ topic, server: name }, { whoami: () => name });
      }
      const client = await open();
      for (let i = 0; i < 6; i += 1)
        assert.equal(await client.call({ topic, server: 'b' }, 'whoami'), 'b');
    });

    it('to a topic is shared among its servers, each call handled once', TEST_TIMEOUT, async () => {
      const topic = uniqueTopic();
      const handled = new Collector<string>();
      for (const name of ['a', 'b']) {
        await (
          await open()
        ).serve(
          { topic, server: name },
          {
            whoami: () => {
              handled.push(name);
              return name;
            },
          },
        );
      }
      const client = await open();
      const replies: JsonValue[] = [];
      for (let i = 0; i < 10; i += 1) replies.push(await client.call({ topic }, 'whoami'));
      assert.deepEqual(replies, handled.items);
      assert.ok(
        handled.items.includes('a') && handled.items.includes('b'),
        `both served: ${handled.items}`,
      );
    });

    it('matches each of many concurrent replies to its call', TEST_TIMEOUT, async () => {
      const [server, client] = [await open(), await open()];
      const topic = uniqueTopic();
      await server.serve(
        { topic },
        { double: async (args) => Number(args.n) * 2 },
        { concurrency: 16 },
      );
      const numbers = Array.from({ length: 200 }, (_, n) => n);
      const replies = await Promise.all(
        numbers.map((n) => client.call({ topic }, 'double', { n })),
      );
      assert.deepEqual(
        replies,
        numbers.map((n) => n * 2),
      );
    });

    remoteErrorConformance(open);

    it(
      'times out with MessagingTimeoutError naming target, method and timeout',
      TEST_TIMEOUT,
      async () => {
        const [server, client] = [await open(), await open()];
        const topic = uniqueTopic();
        const release = gate();
        await server.serve({ topic, server: 'slow-host' }, { hang: () => release.wait });
        const started = performance.now();
        try {
          await assert.rejects(
            client.call({ topic, server: 'slow-host' }, 'hang', {}, { timeoutMs: 300 }),
            (err: unknown) => {
              assert.ok(err instanceof MessagingTimeoutError);
              assert.deepEqual(err.target, { topic, server: 'slow-host' });
              assert.equal(err.method, 'hang');
              assert.equal(err.timeoutMs, 300);
              assert.match(
                err.message,
                new RegExp(`server 'slow-host' of topic '${topic}' to 'hang' within 300 ms`),
              );
              return true;
            },
          );
          assert.ok(performance.now() - started >= 290, 'not before the timeout');
        } finally {
          release.open();
        }
      },
    );

    it('times out when no server serves the target', TEST_TIMEOUT, async () => {
      const client = await open();
      await assert.rejects(
        client.call({ topic: uniqueTopic() }, 'anything', {}, { timeoutMs: 200 }),
        MessagingTimeoutError,
      );
    });

    it('rejects invalid targets, methods and timeouts', TEST_TIMEOUT, async () => {
      const client = await open();
      const cases: { target: Target; method?: string; timeoutMs?: number; error: RegExp }[] = [
        { target: { topic: '' }, error: /invalid messaging topic ""/ },
        { target: { topic: 'a.b' }, error: /invalid messaging topic "a.b"/ },
        { target: { topic: 'a*' }, error: /invalid messaging topic/ },
        {
          target: { topic: 'ok', server: 'has space' },
          error: /invalid messaging server "has space"/,
        },
        { target: { topic: 'ok' }, method: '', error: /invalid method ""/ },
        { target: { topic: 'ok' }, timeoutMs: 0, error: /invalid call timeout 0/ },
      ];
      for (const { target, method, timeoutMs, error } of cases) {
        await assert.rejects(
          client.call(target, method ?? 'm', {}, timeoutMs === undefined ? {} : { timeoutMs }),
          error,
        );
      }
    });
  });

  describe('cast and fanout', () => {
    it('cast runs the handler later, never inside the cast', TEST_TIMEOUT, async () => {
      const [server, client] = [await open(), await open()];
      const topic = uniqueTopic();
      const got = new Collector<JsonValue>();
      await server.serve(
        { topic },
        { record: (args, request) => got.push({ args, kind: request.kind }) },
      );
      const sent = client.cast({ topic }, 'record', { n: 1 });
      assert.equal(got.items.length, 0, 'not delivered synchronously');
      await sent;
      assert.deepEqual(await got.count(1, 5_000, 'the cast'), [{ args: { n: 1 }, kind: 'cast' }]);
    });

    it('cast to topic.server reaches that server only', TEST_TIMEOUT, async () => {
      const topic = uniqueTopic();
      const got = new Collector<string>();
      for (const name of ['a', 'b']) {
        await (
          await open()
        ).serve(
          { topic, server: name },
          { record: (args) => got.push(`${name}:${String(args.n)}`) },
        );
      }
      const client = await open();
      for (let n = 0; n < 4; n += 1) await client.cast({ topic, server: 'a' }, 'record', { n });
      assert.deepEqual(await got.count(4, 5_000, 'four casts'), ['a:0', 'a:1', 'a:2', 'a:3']);
    });

    it(
      'a durable cast waits in its queue for a server that starts later',
      TEST_TIMEOUT,
      async () => {
        const client = await open();
        const topic = uniqueTopic();
        await client.cast({ topic, server: 'late' }, 'record', { n: 1 }, { durable: true });
        await client.cast({ topic }, 'record', { n: 2 }, { durable: true });
        const got = new Collector<JsonValue>();
        await (
          await open()
        ).serve({ topic, server: 'late' }, { record: (args) => got.push(args.n ?? null) });
        assert.deepEqual((await got.count(2, 5_000, 'both durable casts')).sort(), [1, 2]);
      },
    );

    it('a failing cast handler is logged, and the server goes on', TEST_TIMEOUT, async () => {
      const logger = recordingLogger();
      const [server, client] = [await open({ logger }), await open()];
      const topic = uniqueTopic();
      const got = new Collector<JsonValue>();
      await server.serve(
        { topic },
        {
          explode: () => {
            throw new Error('boom');
          },
          record: (args) => got.push(args.n ?? null),
        },
      );
      await client.cast({ topic }, 'explode');
      await client.cast({ topic }, 'record', { n: 1 });
      await got.count(1, 5_000, 'the cast after the failing one');
      await logger.entries.until(
        (entries) =>
          entries.some((entry) => entry.level === 'error' && /'explode'/.test(entry.message)),
        5_000,
        'the failure in the log',
      );
    });

    it('fanout reaches every server of the topic and no other topic', TEST_TIMEOUT, async () => {
      const topic = uniqueTopic();
      const other = uniqueTopic();
      const got = new Collector<string>();
      for (const name of ['a', 'b']) {
        await (
          await open()
        ).serve(
          { topic, server: name },
          { ping: (args, request) => got.push(`${name}:${request.kind}:${String(args.n)}`) },
        );
      }
      await (
        await open()
      ).serve({ topic: other }, { ping: (args) => got.push(`other:${String(args.n)}`) });
      const client = await open();
      await client.fanout(topic, 'ping', { n: 1 });
      await client.fanout(other, 'ping', { n: 'sentinel' });
      const items = await got.until((all) => all.length >= 3, 5_000, 'the fanouts');
      assert.deepEqual([...items].sort(), ['a:fanout:1', 'b:fanout:1', 'other:sentinel']);
    });
  });

  describe('stop and close', () => {
    it(
      'stop() waits for running handlers, then nothing more is delivered',
      TEST_TIMEOUT,
      async () => {
        const [server, client] = [await open(), await open()];
        const topic = uniqueTopic();
        const release = gate();
        const started = new Collector<number>();
        const subscription = await server.serve(
          { topic },
          {
            work: async () => {
              started.push(1);
              await release.wait;
              return 'done';
            },
          },
        );
        const reply = client.call({ topic }, 'work');
        await started.count(1, 5_000, 'the handler to start');
        let stopped = false;
        const stopping = subscription.stop().then(() => {
          stopped = true;
        });
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(stopped, false, 'stop() waits for the running handler');
        release.open();
        assert.equal(await reply, 'done', 'the running call still gets its reply');
        await stopping;
        await assert.rejects(
          client.call({ topic }, 'work', {}, { timeoutMs: 300 }),
          MessagingTimeoutError,
        );
        assert.equal(started.items.length, 1);
      },
    );

    it('close() fails pending calls, and the bus refuses work after it', TEST_TIMEOUT, async () => {
      const [server, client] = [await open(), await open()];
      const topic = uniqueTopic();
      const release = gate();
      await server.serve({ topic }, { hang: () => release.wait });
      try {
        const pending = assert.rejects(client.call({ topic }, 'hang'), MessagingUnavailableError);
        await client.close();
        await pending;
        await assert.rejects(client.call({ topic }, 'hang'), MessagingUnavailableError);
        await assert.rejects(client.cast({ topic }, 'hang'), MessagingUnavailableError);
        await client.close();
      } finally {
        release.open();
      }
    });
  });

  describe('notifications', () => {
    notificationConformance(open);
  });
}

/**
 * The notification half of the `MessageBus` contract; `bus-conformance.ts` runs it. Topics are
 * unique per test, so the default pool (queues `<topic>.<priority>`) is safe to use.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type {
  NotificationEnvelope,
  NotificationPriority,
} from '../../../src/common/messaging/bus.ts';
import type { OpenBus } from './bus-conformance.ts';
import { Collector, TEST_TIMEOUT, uniqueTopic } from './support.ts';

export function notificationConformance(open: OpenBus): void {
  it("reaches a consumer of its topic and priority in oslo's envelope", TEST_TIMEOUT, async () => {
    const [consumer, publisher] = [await open(), await open()];
    const topic = uniqueTopic('n');
    const got = new Collector<NotificationEnvelope>();
    await consumer.onNotification({ topics: [topic], priorities: ['info'] }, got.push);
    const before = Date.now();
    await publisher.notify(
      {
        publisherId: 'compute.host1',
        eventType: 'compute.instance.create.end',
        priority: 'info',
        payload: { instance_id: 'i-1', state: 'active' },
      },
      { topics: [topic] },
    );
    const [envelope] = await got.count(1, 5_000, 'the notification');
    assert.ok(envelope);
    assert.match(envelope.message_id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(
      { ...envelope, message_id: '', timestamp: '' },
      {
        message_id: '',
        publisher_id: 'compute.host1',
        event_type: 'compute.instance.create.end',
        priority: 'info',
        payload: { instance_id: 'i-1', state: 'active' },
        timestamp: '',
      },
    );
    assert.ok(Date.parse(envelope.timestamp) >= before - 1_000, `timestamp ${envelope.timestamp}`);
  });

  it('routes by topic and priority', TEST_TIMEOUT, async () => {
    const [consumer, publisher] = [await open(), await open()];
    const [topic, other] = [uniqueTopic('n'), uniqueTopic('n')];
    const got = new Collector<string>();
    const streams: [string, NotificationPriority][] = [
      [topic, 'info'],
      [topic, 'error'],
      [other, 'info'],
    ];
    for (const [t, priority] of streams) {
      const name = t === topic ? `topic.${priority}` : `other.${priority}`;
      await consumer.onNotification({ topics: [t], priorities: [priority] }, (n) =>
        got.push(`${name}:${n.event_type}`),
      );
    }
    const send = (t: string, priority: NotificationPriority, eventType: string): Promise<void> =>
      publisher.notify({ publisherId: 'p', eventType, priority, payload: {} }, { topics: [t] });
    await send(topic, 'error', 'compute.instance.create.error');
    await send(topic, 'warn', 'nobody.listens');
    for (const [t, priority] of streams) await send(t, priority, 'sentinel');
    const items = await got.count(4, 5_000, 'the notification and the sentinels');
    assert.deepEqual([...items].sort(), [
      'other.info:sentinel',
      'topic.error:compute.instance.create.error',
      'topic.error:sentinel',
      'topic.info:sentinel',
    ]);
  });

  it('publishes on every topic given', TEST_TIMEOUT, async () => {
    const [consumer, publisher] = [await open(), await open()];
    const topics = [uniqueTopic('n'), uniqueTopic('n')];
    const got = new Collector<string>();
    for (const topic of topics) {
      await consumer.onNotification({ topics: [topic], priorities: ['sample'] }, () =>
        got.push(topic),
      );
    }
    await publisher.notify(
      { publisherId: 'p', eventType: 'e', priority: 'sample', payload: {} },
      { topics },
    );
    assert.deepEqual([...(await got.count(2, 5_000, 'one per topic'))].sort(), [...topics].sort());
  });

  const filters: { name: string; eventType: string | RegExp; expected: string[] }[] = [
    {
      name: 'an exact name',
      eventType: 'compute.instance.delete.end',
      expected: ['compute.instance.delete.end'],
    },
    {
      name: 'a pattern with *',
      eventType: 'compute.instance.*',
      expected: ['compute.instance.create.end', 'compute.instance.delete.end'],
    },
    { name: 'a RegExp', eventType: /^image\./g, expected: ['image.upload', 'image.delete'] },
  ];
  for (const { name, eventType, expected } of filters) {
    it(`filters event types by ${name}`, TEST_TIMEOUT, async () => {
      const [consumer, publisher] = [await open(), await open()];
      const topic = uniqueTopic('n');
      const got = new Collector<string>();
      await consumer.onNotification({ topics: [topic], priorities: ['info'], eventType }, (n) =>
        got.push(n.event_type),
      );
      const all = new Collector<string>();
      await consumer.onNotification(
        { topics: [topic], priorities: ['info'], pool: 'everything' },
        (n) => all.push(n.event_type),
      );
      const sent = [
        'compute.instance.create.end',
        'image.upload',
        'compute.instance.delete.end',
        'compute.instancex',
        'image.delete',
      ];
      for (const type of sent) {
        await publisher.notify(
          { publisherId: 'p', eventType: type, priority: 'info', payload: {} },
          { topics: [topic] },
        );
      }
      await all.count(sent.length, 5_000, 'every notification in the unfiltered pool');
      await got.count(expected.length, 5_000, 'the matching notifications');
      assert.deepEqual(got.items, expected);
    });
  }

  it('shares among consumers of one pool; every pool gets everything', TEST_TIMEOUT, async () => {
    const topic = uniqueTopic('n');
    const got = new Collector<string>();
    const consumers: [string, string | undefined][] = [
      ['p1-a', 'p1'],
      ['p1-b', 'p1'],
      ['p2', 'p2'],
      ['default-a', undefined],
      ['default-b', undefined],
    ];
    for (const [name, pool] of consumers) {
      const bus = await open();
      await bus.onNotification(
        { topics: [topic], priorities: ['info'], ...(pool ? { pool } : {}) },
        (n) => got.push(`${name}:${String(n.payload.n)}`),
      );
    }
    const publisher = await open();
    const count = 20;
    for (let n = 0; n < count; n += 1) {
      await publisher.notify(
        { publisherId: 'p', eventType: 'e', priority: 'info', payload: { n } },
        { topics: [topic] },
      );
    }
    const items = await got.count(3 * count, 5_000, 'every notification once per pool');
    const numbersOf = (prefix: string): number[] =>
      items
        .filter((item) => item.startsWith(prefix))
        .map((item) => Number(item.split(':')[1]))
        .sort((a, b) => a - b);
    const all = Array.from({ length: count }, (_, n) => n);
    assert.deepEqual(numbersOf('p1-'), all, 'pool p1 got each once');
    assert.deepEqual(numbersOf('p2:'), all, 'pool p2 got each once');
    assert.deepEqual(numbersOf('default-'), all, 'the default pool got each once');
    for (const name of ['p1-a', 'p1-b', 'default-a', 'default-b']) {
      assert.ok(numbersOf(`${name}:`).length > 0, `${name} shared the work`);
    }
  });

  it("keeps a pool's notifications while none of its consumers runs", TEST_TIMEOUT, async () => {
    const [consumer, publisher] = [await open(), await open()];
    const topic = uniqueTopic('n');
    const subscription = await consumer.onNotification(
      { topics: [topic], priorities: ['audit'], pool: 'audit-log' },
      () => {},
    );
    await subscription.stop();
    await publisher.notify(
      {
        publisherId: 'p',
        eventType: 'identity.user.created',
        priority: 'audit',
        payload: { n: 1 },
      },
      { topics: [topic], durable: true },
    );
    const got = new Collector<string>();
    await consumer.onNotification(
      { topics: [topic], priorities: ['audit'], pool: 'audit-log' },
      (n) => got.push(n.event_type),
    );
    assert.deepEqual(await got.count(1, 5_000, 'the kept notification'), ['identity.user.created']);
  });

  it('rejects bad notifications and subscriptions', TEST_TIMEOUT, async () => {
    const bus = await open();
    await assert.rejects(
      bus.notify({ publisherId: '', eventType: 'e', priority: 'info', payload: {} }),
      /invalid publisher id/,
    );
    await assert.rejects(
      bus.notify({
        publisherId: 'p',
        eventType: 'e',
        priority: 'loud' as NotificationPriority,
        payload: {},
      }),
      /invalid notification priority "loud"/,
    );
    await assert.rejects(
      bus.onNotification({ topics: [] }, () => {}),
      /at least one topic/,
    );
    await assert.rejects(
      bus.onNotification({ topics: ['a.b'] }, () => {}),
      /invalid messaging topic/,
    );
  });
}

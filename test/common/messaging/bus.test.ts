import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkTarget,
  notificationQueue,
  resolveSubscription,
  targetKey,
  type Target,
} from '../../../src/common/messaging/bus.ts';

describe('targets', () => {
  const valid: Target[] = [
    { topic: 'compute' },
    { topic: 'q-agent-notifier-port-update' },
    { topic: 'compute', server: 'host1.example.org' },
    { topic: 'conductor', server: 'node_2:a' },
  ];
  for (const target of valid) {
    it(`accepts ${JSON.stringify(target)}`, () => assert.doesNotThrow(() => checkTarget(target)));
  }
  const invalid: { target: Target; error: RegExp }[] = [
    { target: { topic: '' }, error: /invalid messaging topic ""/ },
    { target: { topic: 'a.b' }, error: /invalid messaging topic "a.b"/ },
    { target: { topic: 'a#' }, error: /invalid messaging topic/ },
    { target: { topic: 'compute', server: '' }, error: /invalid messaging server ""/ },
    { target: { topic: 'compute', server: '.host' }, error: /invalid messaging server/ },
    { target: { topic: 'compute', server: 'a*' }, error: /invalid messaging server/ },
  ];
  for (const { target, error } of invalid) {
    it(`refuses ${JSON.stringify(target)}`, () => assert.throws(() => checkTarget(target), error));
  }

  it('names queues as oslo does', () => {
    assert.equal(targetKey({ topic: 'compute' }), 'compute');
    assert.equal(targetKey({ topic: 'compute', server: 'host1' }), 'compute.host1');
    assert.equal(notificationQueue('notifications', 'info'), 'notifications.info');
    assert.equal(
      notificationQueue('notifications', 'error', 'ceilometer'),
      'notifications.error.ceilometer',
    );
  });
});

describe('notification subscriptions', () => {
  it('default to the notifications topic and every priority', () => {
    const { topics, priorities, pool } = resolveSubscription({});
    assert.deepEqual(topics, ['notifications']);
    assert.deepEqual(priorities, ['audit', 'debug', 'info', 'warn', 'error', 'critical', 'sample']);
    assert.equal(pool, undefined);
  });

  const filters: { filter: string | RegExp | undefined; matching: string[]; other: string[] }[] = [
    { filter: undefined, matching: ['anything'], other: [] },
    {
      filter: 'compute.instance.create.end',
      matching: ['compute.instance.create.end'],
      other: ['compute.instance.create.endx'],
    },
    {
      filter: 'compute.*.end',
      matching: ['compute.instance.create.end', 'compute..end'],
      other: ['compute.instance.create.start', 'computeXinstance.end'],
    },
    { filter: '*', matching: ['', 'a.b'], other: [] },
    {
      filter: /^volume\./g,
      matching: ['volume.create', 'volume.create', 'volume.delete'],
      other: ['image.volume.x'],
    },
  ];
  for (const { filter, matching, other } of filters) {
    it(`matches event types against ${String(filter)}`, () => {
      const { matches } = resolveSubscription(filter === undefined ? {} : { eventType: filter });
      for (const eventType of matching) assert.ok(matches(eventType), eventType);
      for (const eventType of other) assert.ok(!matches(eventType), eventType);
    });
  }

  it('refuses an unknown priority and a bad pool', () => {
    assert.throws(
      () => resolveSubscription({ priorities: ['loud' as 'info'] }),
      /invalid notification priority "loud"/,
    );
    assert.throws(() => resolveSubscription({ pool: 'a b' }), /invalid notification pool "a b"/);
  });
});

/**
 * The names and declarations of what `RabbitMqBus` uses on the broker (described in its header).
 * Every declaration is idempotent and uses the same arguments everywhere, since RabbitMQ refuses
 * to re-declare a queue or exchange with different ones.
 */
import type { Channel, ConfirmChannel, Options } from 'amqplib';
import { messageOf } from '../errors.ts';
import { notificationQueue, targetKey, type NotificationPriority, type Target } from './bus.ts';
import { MessagingUnavailableError } from './errors.ts';

export class RabbitMqTopology {
  readonly rpcExchange: string;
  readonly notificationExchange: string;

  constructor(exchange: string) {
    this.rpcExchange = exchange;
    this.notificationExchange = `${exchange}.notifications`;
  }

  fanoutExchange(topic: string): string {
    return `${this.rpcExchange}.fanout.${topic}`;
  }

  async declareExchanges(channel: Channel): Promise<void> {
    await channel.assertExchange(this.rpcExchange, 'topic', { durable: true });
    await channel.assertExchange(this.notificationExchange, 'topic', { durable: true });
  }

  /** `topic` or `topic.server`: durable, so casts wait there while no server runs. */
  async declareRpcQueue(channel: Channel, queue: string): Promise<void> {
    await channel.assertQueue(queue, { durable: true });
    await channel.bindQueue(queue, this.rpcExchange, queue);
  }

  async declareFanoutExchange(channel: Channel, topic: string): Promise<void> {
    await channel.assertExchange(this.fanoutExchange(topic), 'fanout', { durable: true });
  }

  /** A server's queues: the topic's, its own when it has a name, and one on the topic's fanout. */
  async declareServerQueues(channel: Channel, target: Target): Promise<string[]> {
    const queues = target.server === undefined ? [target.topic] : [target.topic, targetKey(target)];
    for (const queue of queues) await this.declareRpcQueue(channel, queue);
    await this.declareFanoutExchange(channel, target.topic);
    // Exclusive: it goes with the server's connection, so a fanout reaches running servers only.
    const fanout = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(fanout.queue, this.fanoutExchange(target.topic), '');
    return [...queues, fanout.queue];
  }

  /** One durable queue per (topic, priority) of the pool, bound to `<topic>.<priority>`. */
  async declareNotificationQueues(
    channel: Channel,
    topics: readonly string[],
    priorities: readonly NotificationPriority[],
    pool: string | undefined,
  ): Promise<string[]> {
    const queues: string[] = [];
    for (const topic of topics) {
      for (const priority of priorities) {
        const queue = notificationQueue(topic, priority, pool);
        await channel.assertQueue(queue, { durable: true });
        await channel.bindQueue(queue, this.notificationExchange, `${topic}.${priority}`);
        queues.push(queue);
      }
    }
    return queues;
  }

  /**
   * Not exclusive, so it outlives a lost connection and replies sent meanwhile wait in it; it
   * expires once unused for `expiresMs`, so a bus that died leaves nothing behind.
   */
  async declareReplyQueue(channel: Channel, queue: string, expiresMs: number): Promise<void> {
    await channel.assertQueue(queue, { durable: false, expires: expiresMs });
  }
}

/** Publishes; with `confirm`, resolves once the broker has taken responsibility for the message. */
export function publish(
  channel: ConfirmChannel,
  exchange: string,
  routingKey: string,
  body: Buffer,
  properties: Options.Publish,
  confirm: boolean,
): Promise<void> {
  if (!confirm) {
    channel.publish(exchange, routingKey, body, properties);
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    channel.publish(exchange, routingKey, body, properties, (err: unknown) => {
      if (err === null || err === undefined) resolve();
      else {
        reject(
          new MessagingUnavailableError(
            `the message broker did not take the message (${messageOf(err)})`,
          ),
        );
      }
    });
  });
}

/**
 * The consuming side of `RabbitMqBus`: each subscription (a server, a notification consumer, the
 * reply consumer) has a channel of its own whose queues and consumers are declared again on every
 * connection, and a stop that drains the handlers still running before closing the channel.
 */
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { messageOf } from '../errors.ts';
import type { BusLogger, Subscription } from './bus.ts';
import { InFlight } from './dispatch.ts';
import type { RabbitMqConnection } from './rabbitmq-connection.ts';

export type QueueHandler = {
  readonly queue: string;
  readonly handle: (message: ConsumeMessage) => Promise<void>;
};

export type SubscriptionSpec = {
  /** For logs: `server of topic 'compute'`. */
  readonly what: string;
  /** Declares the queues on a fresh channel and says which handler consumes which queue. */
  readonly declare: (channel: Channel) => Promise<QueueHandler[]>;
  /**
   * Without acknowledgements (replies: losing one only times a call out). Otherwise each message
   * is acknowledged after its handler settles, see the delivery notes in `bus.ts`.
   */
  readonly noAck?: boolean;
};

export class RabbitMqSubscriptions {
  readonly #connection: RabbitMqConnection;
  readonly #logger: BusLogger;
  readonly #active = new Set<Subscription>();
  readonly #closedOnPurpose = new WeakSet<Channel>();
  #closing = false;

  constructor(connection: RabbitMqConnection, logger: BusLogger) {
    this.#connection = connection;
    this.#logger = logger;
  }

  /** Declares and starts consuming now when connected, and again after every reconnect. */
  async subscribe(spec: SubscriptionSpec): Promise<Subscription> {
    const inFlight = new InFlight();
    let current: { channel: Channel; tags: string[] } | undefined;
    let stopped = false;
    const setup = async (model: ChannelModel): Promise<void> => {
      const channel = await this.openChannel(model, spec.what);
      try {
        const handlers = await spec.declare(channel);
        const tags: string[] = [];
        for (const { queue, handle } of handlers) {
          const onMessage = (message: ConsumeMessage | null): void => {
            if (message === null) {
              this.#reset(`the broker cancelled the ${spec.what} on queue ${queue}`);
              return;
            }
            const work = handle(message);
            inFlight.track(spec.noAck === true ? work : work.finally(() => ack(channel, message)));
          };
          const options = { noAck: spec.noAck === true };
          tags.push((await channel.consume(queue, onMessage, options)).consumerTag);
        }
        if (stopped) await this.closeChannel(channel);
        else current = { channel, tags };
      } catch (err) {
        await this.closeChannel(channel);
        throw err;
      }
    };
    const remove = await this.#connection.addSetup(setup);
    let stopping: Promise<void> | undefined;
    const subscription: Subscription = {
      stop: () => {
        stopping ??= (async () => {
          stopped = true;
          remove();
          const running = current;
          current = undefined;
          if (running !== undefined) {
            for (const tag of running.tags) await running.channel.cancel(tag).catch(() => {});
          }
          await inFlight.drain();
          if (running !== undefined) await this.closeChannel(running.channel);
          this.#active.delete(subscription);
        })();
        return stopping;
      },
    };
    this.#active.add(subscription);
    return subscription;
  }

  /** Stops every subscription; from now on a closing channel is expected, not a failure. */
  async stopAll(): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#active].map((subscription) => subscription.stop()));
  }

  /**
   * A channel whose unexpected close (a deleted queue, a refused declaration) replaces the
   * connection: only a fresh one, on which every setup runs again, gets back to a known state.
   */
  async openChannel(model: ChannelModel, what: string): Promise<Channel> {
    const channel = await model.createChannel();
    channel.on('error', (err: Error) => {
      this.#logger.warn({ err: messageOf(err), channel: what }, 'messaging: channel error');
    });
    channel.on('close', () => {
      if (!this.#closedOnPurpose.has(channel)) this.#reset(`the channel of the ${what} closed`);
    });
    return channel;
  }

  async closeChannel(channel: Channel): Promise<void> {
    this.#closedOnPurpose.add(channel);
    await channel.close().catch(() => {});
  }

  #reset(reason: string): void {
    if (!this.#closing) this.#connection.reset(reason);
  }
}

function ack(channel: Channel, message: ConsumeMessage): void {
  try {
    channel.ack(message);
  } catch {
    // The channel is gone and the broker requeued the message: at least once, as promised.
  }
}

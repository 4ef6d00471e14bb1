/**
 * The broker behind `InMemoryBus`: named queues, bindings, round-robin consumers with a prefetch
 * window, messages that expire, queues that outlive their consumers — the parts of RabbitMQ the
 * bus relies on, so code that works on it works on RabbitMQ. Every delivery happens on a later
 * turn of the event loop, never inside the publish that sent it. Only tests and `src/cli` import it.
 */

export type InMemoryMessage = {
  readonly body: Buffer;
  readonly persistent: boolean;
  /** Dropped instead of delivered once this old, as AMQP's per-message `expiration`. */
  readonly ttlMs?: number;
  readonly replyTo?: string;
  readonly correlationId?: string;
};

export type Deliver = (message: InMemoryMessage, ack: () => void) => void;
type Consumer = { readonly prefetch: number; unacked: number; readonly deliver: Deliver };
type Queued = { readonly message: InMemoryMessage; readonly expiresAt: number };
type Queue = { readonly items: Queued[]; consumers: Consumer[]; next: number; scheduled: boolean };

/**
 * The broker: queues and bindings shared by every `InMemoryBus` given it, the way processes share
 * a RabbitMQ. The default exchange `''` routes to the queue named by the routing key.
 */
export class InMemoryBroker {
  readonly #queues = new Map<string, Queue>();
  readonly #bindings = new Map<string, Set<string>>();
  readonly #clock: () => number;

  constructor(options: { clock?: () => number } = {}) {
    this.#clock = options.clock ?? Date.now;
  }

  /** Idempotent. */
  declareQueue(name: string): void {
    if (!this.#queues.has(name)) {
      this.#queues.set(name, { items: [], consumers: [], next: 0, scheduled: false });
    }
  }

  /** Drops the queue, its messages and its bindings. Idempotent. */
  deleteQueue(name: string): void {
    this.#queues.delete(name);
    for (const queues of this.#bindings.values()) queues.delete(name);
  }

  hasQueue(name: string): boolean {
    return this.#queues.has(name);
  }

  /** How many messages wait in a queue (0 when there is no such queue). */
  depth(name: string): number {
    return this.#queues.get(name)?.items.length ?? 0;
  }

  /** Idempotent. */
  bind(exchange: string, routingKey: string, queue: string): void {
    const key = bindingKey(exchange, routingKey);
    const queues = this.#bindings.get(key) ?? new Set<string>();
    queues.add(queue);
    this.#bindings.set(key, queues);
  }

  /** Routes a message to every queue bound to the key. False when none took it (it is dropped). */
  publish(exchange: string, routingKey: string, message: InMemoryMessage): boolean {
    const names =
      exchange === ''
        ? [routingKey]
        : [...(this.#bindings.get(bindingKey(exchange, routingKey)) ?? [])];
    const expiresAt = message.ttlMs === undefined ? Infinity : this.#clock() + message.ttlMs;
    let routed = false;
    for (const name of names) {
      const queue = this.#queues.get(name);
      if (queue === undefined) continue;
      queue.items.push({ message, expiresAt });
      routed = true;
      this.#schedule(queue);
    }
    return routed;
  }

  /**
   * Delivers the queue's messages to `deliver`, at most `prefetch` not yet acknowledged at a time,
   * round-robin with the queue's other consumers. Returns the cancel function.
   * @throws Error when the queue does not exist, as a broker would.
   */
  consume(name: string, prefetch: number, deliver: Deliver): () => void {
    const queue = this.#queues.get(name);
    if (queue === undefined) throw new Error(`in-memory broker: no queue '${name}'`);
    const consumer: Consumer = { prefetch, unacked: 0, deliver };
    queue.consumers.push(consumer);
    this.#schedule(queue);
    return () => {
      queue.consumers = queue.consumers.filter((c) => c !== consumer);
    };
  }

  #schedule(queue: Queue): void {
    if (queue.scheduled) return;
    queue.scheduled = true;
    setImmediate(() => {
      queue.scheduled = false;
      this.#drain(queue);
    });
  }

  #drain(queue: Queue): void {
    for (;;) {
      const head = queue.items[0];
      if (head === undefined) return;
      if (head.expiresAt <= this.#clock()) {
        queue.items.shift();
        continue;
      }
      const consumer = this.#nextConsumer(queue);
      if (consumer === undefined) return;
      queue.items.shift();
      consumer.unacked += 1;
      let acked = false;
      consumer.deliver(head.message, () => {
        if (acked) return;
        acked = true;
        consumer.unacked -= 1;
        this.#schedule(queue);
      });
    }
  }

  #nextConsumer(queue: Queue): Consumer | undefined {
    const count = queue.consumers.length;
    for (let i = 0; i < count; i += 1) {
      const consumer = queue.consumers[(queue.next + i) % count];
      if (consumer !== undefined && consumer.unacked < consumer.prefetch) {
        queue.next = (queue.next + i + 1) % count;
        return consumer;
      }
    }
    return undefined;
  }
}

function bindingKey(exchange: string, routingKey: string): string {
  return `${exchange}\u0000${routingKey}`;
}

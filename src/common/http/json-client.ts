/**
 * What every service-to-service client is built on: JSON over HTTP with a token, a timeout, the
 * caller's global request id, and typed failures. A status the caller did not expect becomes an
 * `UpstreamStatusError` carrying the status and the upstream's message; a network failure or a
 * timeout becomes an `UpstreamUnavailableError`.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { REQUEST_ID_HEADER } from './request-id.ts';

/** The upstream answered, but not with a status the caller expected. */
export class UpstreamStatusError extends Error {
  readonly status: number;
  readonly service: string;
  /** The upstream's own message, when its error body carried one. */
  readonly upstreamMessage: string;

  constructor(service: string, method: string, path: string, status: number, message: string) {
    super(`${service}: ${method} ${path} answered ${status}: ${message}`);
    this.name = 'UpstreamStatusError';
    this.service = service;
    this.status = status;
    this.upstreamMessage = message;
  }
}

/** The upstream could not be reached, or did not answer in time. */
export class UpstreamUnavailableError extends Error {
  readonly service: string;

  constructor(service: string, message: string, options?: { cause?: unknown }) {
    super(`${service} is unavailable: ${message}`, options);
    this.name = 'UpstreamUnavailableError';
    this.service = service;
  }
}

export type JsonClientOptions = {
  /** Names the upstream in errors: `placement`, `network`, `image`. */
  service: string;
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:8778`. */
  baseUrl: string;
  /** The token sent when a call names none (the calling service's own). */
  token: () => Promise<string>;
  /** Sent with every request, e.g. a microversion header. */
  headers?: Readonly<Record<string, string>>;
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number;
};

export type RequestOptions = {
  body?: unknown;
  /** A body that is not JSON (an image's data), sent as it is with its content type. */
  raw?: { contentType: string; data: Uint8Array };
  /** Statuses that are not errors; default 200–204. */
  expect?: readonly number[];
  /** A user's token instead of the service's own. */
  token?: string;
  /** The user request this call serves, kept across services. */
  globalRequestId?: string | undefined;
};

export type JsonReply = { status: number; body: unknown };

/** What a download wrote: its length and MD5 (the `checksum` Glance keeps of an image). */
export type Downloaded = { bytes: number; md5: string };

/** Downloads may take long; they fail only when the upstream stays silent this long. */
const DOWNLOAD_IDLE_MS = 60_000;

const DEFAULT_EXPECT = [200, 201, 202, 204];

/** Pulls a message out of the error shapes OpenStack services use. */
function messageIn(text: string): string {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const inner = Object.values(body)[0];
    if (typeof inner === 'object' && inner !== null) {
      const fields = inner as Record<string, unknown>;
      if (typeof fields['message'] === 'string') return fields['message'];
      if (typeof fields['detail'] === 'string') return fields['detail'];
    }
    if (Array.isArray(body['errors'])) {
      const first = body['errors'][0] as Record<string, unknown> | undefined;
      if (typeof first?.['detail'] === 'string') return first['detail'];
    }
  } catch {
    // Not JSON: the text itself is the message.
  }
  return text.slice(0, 500);
}

/**
 * Idle connections are closed before a Node server's own keep-alive timeout (5 s) would close
 * them, so a request seldom meets a connection the server is closing; when it does, it is sent
 * again on a new one (see `send`).
 */
const IDLE_SOCKET_MS = 4000;

type Answer = { status: number; text: string };

export class JsonClient {
  readonly #options: JsonClientOptions;
  readonly #url: URL;
  readonly #agent: http.Agent;

  constructor(options: JsonClientOptions) {
    this.#options = options;
    this.#url = new URL(options.baseUrl);
    // node:http rather than fetch: services call each other many times per user request, and
    // fetch's stream machinery costs about twice the CPU per call (bench/compute-boot.ts).
    const agentOptions = { keepAlive: true, timeout: IDLE_SOCKET_MS };
    this.#agent =
      this.#url.protocol === 'https:'
        ? new https.Agent(agentOptions)
        : new http.Agent(agentOptions);
  }

  get #transport(): typeof http | typeof https {
    return this.#url.protocol === 'https:' ? https : http;
  }

  #target(method: string, path: string, headers: http.OutgoingHttpHeaders): http.RequestOptions {
    return {
      protocol: this.#url.protocol,
      hostname: this.#url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: this.#url.port,
      path: `${this.#url.pathname.replace(/\/$/, '')}${path}`,
      method,
      headers,
      agent: this.#agent,
    };
  }

  async #headers(options: RequestOptions): Promise<Record<string, string | number>> {
    const headers: Record<string, string | number> = {
      accept: 'application/json',
      ...this.#options.headers,
      'x-auth-token': options.token ?? (await this.#options.token()),
    };
    if (options.globalRequestId !== undefined) headers[REQUEST_ID_HEADER] = options.globalRequestId;
    return headers;
  }

  /**
   * One exchange. A connection the server closed while it sat idle fails before the server read
   * anything, so the request goes again, once, on a fresh connection (Node's documented way).
   */
  #send(
    method: string,
    path: string,
    headers: http.OutgoingHttpHeaders,
    payload: string | Uint8Array | undefined,
    again = true,
  ): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      const req = this.#transport.request(
        {
          ...this.#target(method, path, headers),
          signal: AbortSignal.timeout(this.#options.timeoutMs ?? 30_000),
        },
        (res) => {
          res.setEncoding('utf8');
          let text = '';
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          res.on('error', reject);
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (again && req.reusedSocket && err.code === 'ECONNRESET')
          resolve(this.#send(method, path, headers, payload, false));
        else reject(err);
      });
      req.end(payload);
    });
  }

  /**
   * Sends one request and parses a JSON answer (`undefined` for an empty one).
   * @throws UpstreamStatusError for a status not in `expect`.
   * @throws UpstreamUnavailableError when the upstream cannot be reached or times out.
   */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<JsonReply> {
    const { service } = this.#options;
    const headers = await this.#headers(options);
    let payload: string | Uint8Array | undefined;
    if (options.raw !== undefined) {
      headers['content-type'] = options.raw.contentType;
      payload = options.raw.data;
    } else if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(options.body);
    }
    if (payload !== undefined) headers['content-length'] = Buffer.byteLength(payload);
    let res: Answer;
    try {
      res = await this.#send(method, path, headers, payload);
    } catch (err) {
      throw new UpstreamUnavailableError(
        service,
        `${method} ${path}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    if (!(options.expect ?? DEFAULT_EXPECT).includes(res.status))
      throw new UpstreamStatusError(service, method, path, res.status, messageIn(res.text));
    return {
      status: res.status,
      body: res.text === '' ? undefined : (JSON.parse(res.text) as unknown),
    };
  }

  /**
   * GETs `path` and streams a 200 answer's body into `sink` (a file, say), never holding it
   * whole; the sink is ended. Fails only when the upstream goes silent for a minute, however
   * long the whole download takes.
   * @throws UpstreamStatusError for any other status (the sink gets nothing).
   * @throws UpstreamUnavailableError when the upstream cannot be reached or the body breaks off.
   */
  async download(path: string, sink: Writable, options: RequestOptions = {}): Promise<Downloaded> {
    const { service } = this.#options;
    const headers = { ...(await this.#headers(options)), accept: '*/*' };
    const unavailable = (err: unknown) =>
      new UpstreamUnavailableError(
        service,
        `GET ${path}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = this.#transport.request(this.#target('GET', path, headers), resolve);
      req.setTimeout(DOWNLOAD_IDLE_MS, () => req.destroy(new Error('no data for a minute')));
      req.on('error', (err) => reject(unavailable(err)));
      req.end();
    });
    if (res.statusCode !== 200) {
      let text = '';
      res.setEncoding('utf8');
      for await (const chunk of res) text += String(chunk);
      sink.destroy();
      throw new UpstreamStatusError(service, 'GET', path, res.statusCode ?? 0, messageIn(text));
    }
    const md5 = createHash('md5');
    let bytes = 0;
    try {
      await pipeline(
        res,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            md5.update(chunk);
            bytes += chunk.length;
            yield chunk;
          }
        },
        sink,
      );
    } catch (err) {
      throw unavailable(err);
    }
    if (!res.complete) throw unavailable(new Error('the body ended early'));
    return { bytes, md5: md5.digest('hex') };
  }
}

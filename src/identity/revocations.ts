/**
 * Revocation events, Keystone's way of revoking stateless tokens: an event names attributes
 * (user, project, domain, role, audit id…) and a time; every token issued at or before that time
 * whose attributes match all of the event's is revoked. Events live in the database, so every
 * identity process sees them, and in memory, so checking a token touches no database: each
 * process picks up other processes' events with a cheap poll (`refresh`).
 */
import type { Kysely } from 'kysely';
import { toDbTimestamp } from '../common/db/portable.ts';
import type { Selectable } from 'kysely';
import type { IdentityDatabase, RevocationEventRow } from './db/schema.ts';

export type RevocationFields = {
  user_id?: string;
  project_id?: string;
  domain_id?: string;
  role_id?: string;
  audit_id?: string;
  audit_chain_id?: string;
  application_credential_id?: string;
};

export type RevocationEvent = RevocationFields & {
  issued_before: number;
  expires_at: number;
};

/** What a token is, for matching against events. Times are epoch milliseconds. */
export type TokenFacts = {
  user_id: string;
  user_domain_id: string;
  project_id?: string | undefined;
  project_domain_id?: string | undefined;
  domain_id?: string | undefined;
  role_ids: readonly string[];
  audit_id: string;
  audit_chain_id: string;
  application_credential_id?: string | undefined;
  issued_at: number;
};

const FIELDS = [
  'user_id',
  'project_id',
  'domain_id',
  'role_id',
  'audit_id',
  'audit_chain_id',
  'application_credential_id',
] as const;

export function matches(event: RevocationEvent, token: TokenFacts): boolean {
  if (token.issued_at > event.issued_before) return false;
  if (event.user_id !== undefined && event.user_id !== token.user_id) return false;
  if (event.project_id !== undefined && event.project_id !== token.project_id) return false;
  if (
    event.domain_id !== undefined &&
    event.domain_id !== token.domain_id &&
    event.domain_id !== token.user_domain_id &&
    event.domain_id !== token.project_domain_id
  ) {
    return false;
  }
  if (event.role_id !== undefined && !token.role_ids.includes(event.role_id)) return false;
  if (event.audit_id !== undefined && event.audit_id !== token.audit_id) return false;
  if (event.audit_chain_id !== undefined && event.audit_chain_id !== token.audit_chain_id)
    return false;
  if (
    event.application_credential_id !== undefined &&
    event.application_credential_id !== token.application_credential_id
  ) {
    return false;
  }
  return true;
}

export class Revocations {
  readonly #db: Kysely<IdentityDatabase>;
  readonly #now: () => Date;
  /** How long after its revocation an event can still match a token: the longest token life. */
  readonly #keepMs: number;
  #events: RevocationEvent[] = [];
  #lastId = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #listeners: (() => void)[] = [];

  constructor(db: Kysely<IdentityDatabase>, options: { now: () => Date; keepSeconds: number }) {
    this.#db = db;
    this.#now = options.now;
    this.#keepMs = options.keepSeconds * 1000;
  }

  /** Records an event that revokes every matching token issued until now. */
  async revoke(fields: RevocationFields): Promise<void> {
    const now = this.#now();
    const event: RevocationEvent = {
      ...fields,
      issued_before: now.getTime(),
      expires_at: now.getTime() + this.#keepMs,
    };
    const row = {
      user_id: fields.user_id ?? null,
      project_id: fields.project_id ?? null,
      domain_id: fields.domain_id ?? null,
      role_id: fields.role_id ?? null,
      audit_id: fields.audit_id ?? null,
      audit_chain_id: fields.audit_chain_id ?? null,
      application_credential_id: fields.application_credential_id ?? null,
      issued_before: toDbTimestamp(now),
      revoked_at: toDbTimestamp(now),
      expires_at: toDbTimestamp(new Date(event.expires_at)),
    };
    await this.#db.insertInto('revocation_event').values(row).execute();
    // Reading back (rather than pushing `event`) keeps memory and database in one order.
    await this.refresh();
  }

  /** Called whenever new events arrive, from this process or, by `refresh`, another. */
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  isRevoked(token: TokenFacts): boolean {
    return this.#events.some((event) => matches(event, token));
  }

  /** Reads events other processes wrote since the last read, and forgets expired ones. */
  async refresh(): Promise<void> {
    const rows = await this.#db
      .selectFrom('revocation_event')
      .selectAll()
      .where('id', '>', this.#lastId)
      .orderBy('id')
      .execute();
    const now = this.#now().getTime();
    if (rows.length > 0) for (const listener of this.#listeners) listener();
    for (const row of rows) {
      this.#lastId = Math.max(this.#lastId, row.id);
      const event = fromRow(row);
      if (event.expires_at > now) this.#events.push(event);
    }
    if (this.#events.some((e) => e.expires_at <= now)) {
      this.#events = this.#events.filter((e) => e.expires_at > now);
    }
  }

  /** Drops expired rows from the database; run now and then. */
  async prune(): Promise<void> {
    await this.#db
      .deleteFrom('revocation_event')
      .where('expires_at', '<=', toDbTimestamp(this.#now()))
      .execute();
  }

  /** Polls for other processes' events every `intervalMs`. */
  start(intervalMs: number, onError: (err: unknown) => void): void {
    this.stop();
    let ticks = 0;
    this.#timer = setInterval(() => {
      ticks++;
      const work = ticks % 600 === 0 ? this.prune().then(() => this.refresh()) : this.refresh();
      work.catch(onError);
    }, intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

function fromRow(row: Selectable<RevocationEventRow>): RevocationEvent {
  const event: RevocationEvent = {
    issued_before: Date.parse(row.issued_before),
    expires_at: Date.parse(row.expires_at),
  };
  for (const field of FIELDS) {
    const value = row[field];
    if (value !== null) event[field] = value;
  }
  return event;
}

/**
 * Wraps a Kysely dialect so that every error a query, a transaction or a connection attempt
 * throws is already classified (`DuplicateKeyError`, `DeadlockError`, … from `portable.ts`).
 * Callers then never see three drivers' error shapes, and `withRetry` works on any code.
 *
 * Two more dialect differences are evened out here, because only the driver layer sees them:
 * MariaDB names the violated key but not its columns, so they are looked up; and SQLite
 * transactions that will write start with `begin immediate`, so that a second process waits for
 * the write lock at `begin` instead of failing halfway through with SQLITE_BUSY_SNAPSHOT.
 */

import { AliasNode, CompiledQuery, InsertQueryNode, TableNode, UpdateQueryNode } from 'kysely';
import type {
  DatabaseConnection,
  Dialect,
  Driver,
  OperationNode,
  QueryResult,
  TransactionSettings,
} from 'kysely';
import type { DialectName } from './database-url.ts';
import { ConnectionLostError, DuplicateKeyError, classifyDatabaseError } from './portable.ts';

export function classifyingDialect(inner: Dialect, dialect: DialectName): Dialect {
  return {
    createDriver: () => new ClassifyingDriver(inner.createDriver(), dialect),
    createQueryCompiler: () => inner.createQueryCompiler(),
    createAdapter: () => inner.createAdapter(),
    createIntrospector: (db) => inner.createIntrospector(db),
  };
}

type Options = Parameters<Driver['init']>[0];
type Compile = Parameters<NonNullable<Driver['savepoint']>>[2];

class ClassifyingDriver implements Driver {
  readonly #inner: Driver;
  readonly #dialect: DialectName;
  /** The driver's own connection behind each wrapper we hand out. */
  readonly #unwrapped = new WeakMap<DatabaseConnection, DatabaseConnection>();
  /** Wrappers whose connection failed with a ConnectionLostError. */
  readonly #lost = new WeakSet<DatabaseConnection>();

  constructor(inner: Driver, dialect: DialectName) {
    this.#inner = inner;
    this.#dialect = dialect;
  }

  async #guard<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw classifyDatabaseError(err, this.#dialect);
    }
  }

  #inside(connection: DatabaseConnection): DatabaseConnection {
    return this.#unwrapped.get(connection) ?? connection;
  }

  init(options?: Options): Promise<void> {
    return this.#guard(() => this.#inner.init(options));
  }

  async acquireConnection(options?: Options): Promise<DatabaseConnection> {
    const inner = await this.#guard(() => this.#inner.acquireConnection(options));
    const wrapped: DatabaseConnection = wrapConnection(inner, this.#dialect, () =>
      this.#lost.add(wrapped),
    );
    this.#unwrapped.set(wrapped, inner);
    return wrapped;
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    if (this.#dialect === 'sqlite' && settings.accessMode !== 'read only') {
      return this.#guard(async () => {
        await this.#inside(connection).executeQuery(CompiledQuery.raw('begin immediate'));
      });
    }
    return this.#guard(() => this.#inner.beginTransaction(this.#inside(connection), settings));
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#guard(() => this.#inner.commitTransaction(this.#inside(connection)));
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#guard(() => this.#inner.rollbackTransaction(this.#inside(connection)));
  }

  async savepoint(connection: DatabaseConnection, name: string, compile: Compile): Promise<void> {
    await this.#guard(async () => this.#inner.savepoint?.(this.#inside(connection), name, compile));
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: Compile,
  ): Promise<void> {
    await this.#guard(async () =>
      this.#inner.rollbackToSavepoint?.(this.#inside(connection), name, compile),
    );
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: Compile,
  ): Promise<void> {
    await this.#guard(async () =>
      this.#inner.releaseSavepoint?.(this.#inside(connection), name, compile),
    );
  }

  async releaseConnection(connection: DatabaseConnection, options?: Options): Promise<void> {
    const inner = this.#inside(connection);
    if (this.#lost.has(connection)) {
      // The server ended the session, but the socket may not have closed yet, and the pool would
      // hand the dead connection to the next query. A statement on it fails only once the close
      // is seen: by then mysql2 has dropped the connection, and Kysely's pg driver drops one
      // whose rollback failed.
      await this.#inner.rollbackTransaction(inner).catch(() => undefined);
    }
    await this.#inner.releaseConnection(inner, options);
  }

  destroy(options?: Options): Promise<void> {
    return this.#inner.destroy(options);
  }
}

function wrapConnection(
  inner: DatabaseConnection,
  dialect: DialectName,
  onLost: () => void,
): DatabaseConnection {
  const wrapped: DatabaseConnection = {
    async executeQuery<R>(query: CompiledQuery, options?: Options): Promise<QueryResult<R>> {
      try {
        return await inner.executeQuery<R>(query, options);
      } catch (err) {
        const classified = classifyDatabaseError(err, dialect);
        if (classified instanceof ConnectionLostError) onLost();
        if (dialect === 'mysql' && classified instanceof DuplicateKeyError) {
          throw await withMysqlColumns(inner, classified, query.query);
        }
        throw classified;
      }
    },
    async *streamQuery<R>(query: CompiledQuery, chunkSize: number, options?: Options) {
      try {
        yield* inner.streamQuery<R>(query, chunkSize, options);
      } catch (err) {
        const classified = classifyDatabaseError(err, dialect);
        if (classified instanceof ConnectionLostError) onLost();
        throw classified;
      }
    },
  };
  // Kysely offers query cancellation only when the connection has these; keep them if present.
  if (inner.cancelQuery) wrapped.cancelQuery = inner.cancelQuery.bind(inner);
  if (inner.killSession) wrapped.killSession = inner.killSession.bind(inner);
  if (inner.collectSessionInfo) wrapped.collectSessionInfo = inner.collectSessionInfo.bind(inner);
  return wrapped;
}

/**
 * MariaDB's duplicate-key message names the index but neither its table nor its columns. The
 * columns come from information_schema, for the table the failed statement wrote to (an index
 * name such as `PRIMARY` is unique only within a table).
 */
async function withMysqlColumns(
  connection: DatabaseConnection,
  err: DuplicateKeyError,
  query: OperationNode,
): Promise<DuplicateKeyError> {
  if (err.constraint === undefined) return err;
  const table = tableWritten(query);
  try {
    const result = await connection.executeQuery<{ table_name: string; column_name: string }>(
      CompiledQuery.raw(
        'select table_name as table_name, column_name as column_name from information_schema.statistics ' +
          'where table_schema = database() and index_name = ?' +
          (table === undefined ? '' : ' and table_name = ?') +
          ' order by table_name, seq_in_index',
        table === undefined ? [err.constraint] : [err.constraint, table],
      ),
    );
    const tables = new Set(result.rows.map((row) => row.table_name));
    if (tables.size !== 1) return err;
    const columns = result.rows.map((row) => row.column_name);
    return new DuplicateKeyError(err.message, {
      constraint: err.constraint,
      columns,
      cause: err.cause,
    });
  } catch {
    // The lookup only adds detail; the duplicate key is the error to report.
    return err;
  }
}

function tableWritten(query: OperationNode): string | undefined {
  let table: OperationNode | undefined;
  if (InsertQueryNode.is(query)) table = query.into;
  else if (UpdateQueryNode.is(query)) table = query.table;
  if (table !== undefined && AliasNode.is(table)) table = table.node;
  return table !== undefined && TableNode.is(table) ? table.table.identifier.name : undefined;
}

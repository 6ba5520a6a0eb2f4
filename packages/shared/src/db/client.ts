import pg from 'pg';

export interface Database {
  pool: pg.Pool;
  close(): Promise<void>;
}

// int8 (bigint / count(*)) as JS numbers: every bigint we store (sizes, counts) is far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export function createDatabase(url: string, opts: { max?: number; applicationName?: string } = {}): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'lovsync',
    idleTimeoutMillis: 30_000,
  });
  // A connection killed under us (pg_terminate_backend, failover) must not crash the process:
  // the query that used it fails and is retried by its job.
  pool.on('error', () => undefined);
  return { pool, close: () => pool.end() };
}

/** Runs fn inside one transaction on a dedicated client; rolls back on any error. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * A parse backlog for benches: sync + diff of an archive into a template database once, then one
 * copy of it per scenario (CREATE DATABASE ... TEMPLATE) so every scenario starts from the same
 * pending file_changes rows; plus the poll that waits until a run has none pending.
 */
import pg from 'pg';
import { createTestContext } from '@lovsync/testkit/support/context';
import { syncAndDiff } from '@lovsync/testkit/support/cycle';
import { startEmulator } from '@lovsync/testkit/emulator/server';
import { PG_ADMIN_URL, type TestEnv } from '@lovsync/testkit/support/harness';

/** Runs `fn` on a connection to the maintenance database (CREATE/DROP DATABASE). */
export async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Sync + diff of the archives in `archiveDir` (served by the emulator) into the env's database,
 * which then serves as the template: its pool is closed, since CREATE DATABASE ... TEMPLATE needs
 * a template without connections. Returns the run id whose parses are pending.
 */
export async function makeBacklog(env: TestEnv, archiveDir: string): Promise<number> {
  const emulator = await startEmulator({ dir: archiveDir });
  const ctx = createTestContext(env, { LOVDATA_API_URL: emulator.url });
  try {
    const { runId } = await syncAndDiff(ctx, true);
    await ctx.queues.parse.obliterate({ force: true });
    return runId;
  } finally {
    await ctx.close();
    await emulator.close();
    await env.database.close();
  }
}

/** Creates database `name` as a copy of the env's (template) database; returns its URL. */
export async function cloneDatabase(env: TestEnv, name: string): Promise<string> {
  await admin((c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${env.name}"`));
  const url = new URL(env.databaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

/** Pending (and in total) parse bytes and files of a run. */
export async function pendingParses(pool: pg.Pool, runId: number): Promise<{ bytes: number; files: number }> {
  return (
    await pool.query<{ bytes: number; files: number }>(
      `SELECT coalesce(sum(new_size), 0)::float8 AS bytes, count(*)::int AS files FROM file_changes
       WHERE run_id = $1 AND parse_status = 'pending'`,
      [runId],
    )
  ).rows[0]!;
}

/**
 * Polls every `intervalMs` until no file_changes row of the run is pending; returns how many
 * failed. `onPoll` sees the pending count of each poll.
 */
export async function waitUntilParsed(
  pool: pg.Pool,
  runId: number,
  options: { onPoll?: (pending: number) => void; intervalMs?: number; timeoutMs?: number } = {},
): Promise<number> {
  const { intervalMs = 100, timeoutMs = 15 * 60_000 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { pending, failed } = (
      await pool.query<{ pending: number; failed: number }>(
        `SELECT count(*) FILTER (WHERE parse_status = 'pending')::int AS pending,
                count(*) FILTER (WHERE parse_status = 'failed')::int AS failed
         FROM file_changes WHERE run_id = $1`,
        [runId],
      )
    ).rows[0]!;
    options.onPoll?.(pending);
    if (pending === 0) return failed;
    if (Date.now() > deadline) {
      throw new Error(`${pending} parses still pending after ${Math.round(timeoutMs / 1000)} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

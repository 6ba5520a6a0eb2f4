import { config } from '@lovsync/shared/config';
import { createDatabase, type Database } from '@lovsync/shared/db/client';

/** Runs `fn` with a small pool on DATABASE_URL and closes it afterwards (every query command). */
export async function withDb<T>(fn: (db: Database) => Promise<T>): Promise<T> {
  const db = createDatabase(config().DATABASE_URL, { max: 2, applicationName: 'lovsync-cli' });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

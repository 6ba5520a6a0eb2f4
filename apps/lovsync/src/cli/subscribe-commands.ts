/**
 * `lovsync subscribe add|list|remove|deliveries` and `lovsync chunks changes`. The database code
 * loads when a command runs (start-up stays light: README "Start-up").
 */
import { InvalidArgumentError, type Command } from 'commander';
import { EVENT_TYPES, type EventType } from '@lovsync/shared/db/events';
import type { Database } from '@lovsync/shared/db/client';
import { printRows } from './table.ts';
import { withDb } from './with-db.ts';

import type * as DbModule from '@lovsync/shared/db';

type Db = typeof DbModule;

/** withDb, with the query module loaded on demand. */
async function withQueries<T>(fn: (db: Database, q: Db) => Promise<T>): Promise<T> {
  const q = await import('@lovsync/shared/db');
  return withDb((db) => fn(db, q));
}

const positiveInt = (v: string) => {
  if (!/^\d{1,10}$/.test(v) || Number(v) < 1 || Number(v) > 2_147_483_647)
    throw new InvalidArgumentError('must be a positive whole number');
  return Number(v);
};
const collect = (v: string, prev: string[] = []) => [...prev, v];
const eventList = (v: string, prev: EventType[] = []) => {
  const out = [...prev];
  for (const e of v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    if (!(EVENT_TYPES as readonly string[]).includes(e))
      throw new InvalidArgumentError(`unknown event "${e}" (one of ${EVENT_TYPES.join(', ')})`);
    out.push(e as EventType);
  }
  return out;
};

/** Adds the subscription and chunk-stream commands to `program`. */
export function addSubscriptionCommands(program: Command): void {
  const sub = program.command('subscribe').description('webhook subscriptions to change events');
  sub
    .command('add')
    .description('POST signed JSON batches of each finished run’s matching events to URL')
    .requiredOption('--url <url>', 'receiver (http or https)')
    .requiredOption('--secret <secret>', 'HMAC-SHA256 key for the lovsync-signature header (16+ characters)')
    .option('--document <id>', 'only this document (repeatable)', collect)
    .option('--legal-area <area>', 'only documents in this legal area (name or slug)')
    .option('--ministry <ministry>', 'only documents of this ministry (name or slug)')
    .option('--all', 'every event', false)
    .option('--events <list>', `comma-separated subset of ${EVENT_TYPES.join(', ')}`, eventList)
    .option('--json', 'JSON output', false)
    .action(
      async (o: {
        url: string;
        secret: string;
        document?: string[];
        legalArea?: string;
        ministry?: string;
        all: boolean;
        events?: EventType[];
        json: boolean;
      }) => {
        await withQueries(async (db, q) => {
          let s;
          try {
            s = await q.createSubscription(db.pool, {
              url: o.url,
              secret: o.secret,
              documents: o.document,
              legalArea: o.legalArea,
              ministry: o.ministry,
              all: o.all || undefined,
              events: o.events,
            });
          } catch (err) {
            if (err instanceof (await import('zod')).ZodError) {
              const i = err.issues[0]!;
              const what = String(i.path[0] ?? 'filter').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
              throw new Error(`invalid --${what === 'documents' ? 'document' : what}: ${i.message}`);
            }
            throw err;
          }
          if (o.json) process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
          else
            process.stdout.write(
              `subscription ${s.id}: ${s.filterKind}${s.filterValues.length ? ` ${s.filterValues.join(', ')}` : ''} -> ${s.url} (${s.events.join(', ')})\n`,
            );
        });
      },
    );
  sub
    .command('list')
    .option('--json', 'JSON output', false)
    .action(async (o: { json: boolean }) => {
      await withQueries(async (db, q) => {
        const rows = (await q.listSubscriptions(db.pool)).map((s) => ({
          ...s,
          filter: `${s.filterKind}${s.filterValues.length ? `: ${s.filterValues.join(', ')}` : ''}`,
          pending: s.deliveries.pending,
          succeeded: s.deliveries.succeeded,
          dead: s.deliveries.dead,
        }));
        printRows(rows as unknown as Record<string, unknown>[], o.json, [
          'id',
          'url',
          'filter',
          'events',
          'pending',
          'succeeded',
          'dead',
        ]);
      });
    });
  sub
    .command('remove <id>')
    .description('delete a subscription and its delivery log')
    .action(async (id: string) => {
      const n = positiveInt(id);
      await withQueries(async (db, q) => {
        if (!(await q.removeSubscription(db.pool, n)))
          throw new Error(`subscription ${n} not found (see \`lovsync subscribe list\`)`);
        process.stdout.write(`subscription ${n} removed\n`);
      });
    });
  sub
    .command('deliveries')
    .description('the delivery log, newest first')
    .option('--subscription <id>', 'only this subscription', positiveInt)
    .option('--status <status>', 'pending | succeeded | dead')
    .option('--limit <n>', 'at most n rows', positiveInt, 50)
    .option('--json', 'JSON output', false)
    .action(async (o: { subscription?: number; status?: string; limit: number; json: boolean }) => {
      if (o.status !== undefined && !['pending', 'succeeded', 'dead'].includes(o.status))
        throw new Error('--status must be pending, succeeded or dead');
      await withQueries(async (db, q) => {
        const rows = await q.listDeliveries(db.pool, {
          subscriptionId: o.subscription,
          status: o.status as 'pending' | undefined,
          limit: o.limit,
        });
        printRows(rows as unknown as Record<string, unknown>[], o.json, [
          'deliveryId',
          'subscriptionId',
          'runId',
          'batch',
          'events',
          'status',
          'attempts',
          'responseCode',
          'lastError',
        ]);
      });
    });

  const chunks = program.command('chunks').description('the chunk change stream (for search/RAG indexes)');
  chunks
    .command('changes')
    .description('chunks added / modified / removed after a cursor (RUN or RUN:POSITION; 0 = from the start)')
    .option('--since <cursor>', 'resume after this cursor', '0')
    .option('--limit <n>', 'at most n changes', positiveInt, 1000)
    .option('--json', 'JSON output', false)
    .action(async (o: { since: string; limit: number; json: boolean }) => {
      await withQueries(async (db, q) => {
        const cursor = q.parseChunkCursor(o.since);
        const page = await q.listChunkChanges(db.pool, { cursor, limit: Math.min(o.limit, 10_000) });
        if (o.json) {
          process.stdout.write(`${JSON.stringify(page, null, 2)}\n`);
          return;
        }
        printRows(page.items as unknown as Record<string, unknown>[], false, [
          'cursor',
          'chunkId',
          'change',
          'editorialOnly',
          'newHash',
        ]);
        process.stdout.write(`next cursor: ${page.nextCursor}${page.hasMore ? ' (more)' : ''}\n`);
      });
    });
}

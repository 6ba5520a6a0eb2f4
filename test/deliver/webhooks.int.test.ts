/**
 * Webhooks end to end (issue 14): real emulator, sync, differ, parser, Postgres, Redis, the deliver
 * worker (in-process, then as a child process that is SIGKILLed) and a real HTTP receiver.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSubscription, getRun } from '@lovsync/shared/db';
import { deliveryAttempts } from '@lovsync/shared/queues';
import { createDeliverWorker, verifySignature } from '@lovsync/deliver';
import { buildTarBz2, fixtureEntries } from '@lovsync/testkit/archive/archive-builder';
import type { ArchiveEntry } from '@lovsync/testkit/archive/archive-entry';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { createTestContext, rows } from '@lovsync/testkit/support/context';
import { parsePending, syncAndDiff } from '@lovsync/testkit/support/cycle';
import { startWorkerProcess, stopProcess } from '@lovsync/testkit/support/processes';
import type { Runtime } from '@lovsync/shared/runtime';
import {
  startReceiver,
  type ReceivedRequest,
  type Receiver,
} from '@lovsync/testkit/support/webhook-receiver';

const LOVER = 'gjeldende-lover.tar.bz2';
const HUSLEIE = 'nl/nl-19990326-017.xml';
const HUSLEIE_ID = 'NL/lov/1999-03-26-17';
const REMOVED = 'nl/nl-19170601-001.xml';
const SECRET = 'test-secret-0123456789abcdef';
const FAST = {
  DELIVERY_BACKOFF_BASE_MS: '50',
  DELIVERY_BACKOFF_MAX_MS: '200',
  DELIVERY_RETRY_SECONDS: '1',
  DELIVERY_POLL_MS: '100',
  DELIVERY_TIMEOUT_SECONDS: '5',
};

let env: TestEnv;
let emu: Emulator;
let ctx: Runtime;
let receiver: Receiver;
let archives: string;
let lover: ArchiveEntry[];
const children: ChildProcess[] = [];

interface Body {
  deliveryId: string;
  subscriptionId: number;
  runId: number;
  batch: number;
  batches: number;
  events: { eventId: number; type: string; runId: number; documentId?: string; sectionKey?: string }[];
}
const parse = (r: ReceivedRequest) => JSON.parse(r.body) as Body;
const on = (path: string) => receiver.requests.filter((r) => r.path === path);
/** Event ids of the successfully answered requests on a path, one entry per answered delivery. */
const delivered = (path: string) => {
  const seen = new Set<string>();
  const ids: number[] = [];
  for (const r of on(path).filter((x) => x.status === 200)) {
    const b = parse(r);
    if (seen.has(b.deliveryId)) continue;
    seen.add(b.deliveryId);
    ids.push(...b.events.map((e) => e.eventId));
  }
  return ids;
};

function edit(entries: ArchiveEntry[], path: string, from: string, to: string): ArchiveEntry[] {
  return entries.map((e) => {
    if (e.path !== path) return e;
    const xml = (e.content as Buffer).toString('utf8');
    if (!xml.includes(from)) throw new Error(`"${from}" not in ${path}`);
    return { ...e, content: Buffer.from(xml.replace(from, to)) };
  });
}
async function cycle(entries: ArchiveEntry[]): Promise<number> {
  await buildTarBz2(entries, join(archives, LOVER));
  const r = await syncAndDiff(ctx, true);
  await parsePending(ctx, r.runId);
  const run = await getRun(env.database.pool, r.runId);
  expect(run!.status).toBe('succeeded');
  return r.runId;
}
async function waitNoPending(ms = 90_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const [p] = await rows<{ n: number; subs: number }>(
      env,
      `SELECT (SELECT count(*)::int FROM deliveries WHERE status = 'pending') AS n,
         (SELECT count(*)::int FROM subscriptions s WHERE dispatched_through < (SELECT COALESCE(max(id), 0) FROM outbox WHERE event = 'run.finished')) AS subs`,
    );
    if (p!.n === 0 && p!.subs === 0) return;
    if (Date.now() - t0 > ms)
      throw new Error(`deliveries still pending after ${ms} ms: ${JSON.stringify(p)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
/** The outbox events of `runs` that `match`, by id. */
async function outboxIds(
  runs: number[],
  match: (e: Record<string, unknown>, ministries: string[]) => boolean,
): Promise<number[]> {
  const r = await rows<{ id: string; payload: Record<string, unknown>; ministries: string[] }>(
    env,
    'SELECT id, payload, ministries FROM outbox WHERE run_id = ANY($1) ORDER BY id',
    [runs],
  );
  return r.filter((e) => match(e.payload, e.ministries)).map((e) => Number(e.id));
}

beforeAll(async () => {
  env = await createTestEnv('webhooks');
  archives = join(env.tmp, 'archives');
  await mkdir(archives, { recursive: true });
  emu = await startEmulator({ dir: archives });
  ctx = createTestContext(env, { LOVDATA_API_URL: emu.url, ...FAST });
  receiver = await startReceiver();
  lover = fixtureEntries('gjeldende-lover');
});
afterAll(async () => {
  for (const c of children) await stopProcess(c, 'SIGKILL');
  await ctx?.close();
  await receiver?.close();
  await emu?.close();
  await env?.teardown();
});

describe('webhooks', () => {
  let r2: number;
  let r3: number;
  const subs: Record<string, number> = {};

  it('v1 -> v2 -> v3: each filter gets exactly its events once, signed; 503 x3 then delivered; a dead receiver is dead-lettered; in run order', async () => {
    await cycle(lover); // v1: before any subscription, delivered to nobody
    const [other] = await rows<{ document_id: string }>(
      env,
      `SELECT document_id FROM documents WHERE path = 'nl/nl-19610505-000.xml'`,
    );
    const add = async (name: string, filter: Record<string, unknown>) => {
      subs[name] = (
        await createSubscription(env.database.pool, {
          url: `${receiver.url}/${name}`,
          secret: SECRET,
          ...filter,
        })
      ).id;
    };
    await add('all', { all: true });
    await add('husleie', { documents: [HUSLEIE_ID] });
    await add('other', { documents: [other!.document_id] });
    await add('area', { legalArea: 'Husleie' });
    await add('ministry', { ministry: 'Kommunal- og distriktsdepartementet' });
    await add('flaky', { all: true });
    await add('dead', { all: true });
    await add('runs', { all: true, events: ['run.finished'] });
    receiver.behave = (path, n) => (path === '/flaky' && n <= 3 ? 503 : path === '/dead' ? 500 : 200);

    // v2: one § of husleieloven edited, one law removed; v3: another § edited.
    lover = edit(lover, HUSLEIE, 'mindre gunstige for leieren', 'mindre gunstige for leietakeren');
    r2 = await cycle(lover.filter((e) => e.path !== REMOVED));
    lover = edit(lover, HUSLEIE, 'Med lokale menes i denne loven', 'Med lokale menes i loven her');
    r3 = await cycle(lover.filter((e) => e.path !== REMOVED));

    const worker = createDeliverWorker(ctx);
    try {
      await waitNoPending();
    } finally {
      await worker.close();
    }

    // --all: every event of runs 2 and 3, each exactly once (no event of run 1, which came before).
    const all = await outboxIds([r2, r3], () => true);
    expect(all.length).toBeGreaterThan(4);
    expect(delivered('/all')).toEqual(all);
    const types = on('/all').flatMap((r) =>
      parse(r).events.map((e) => `${e.runId} ${e.type} ${e.documentId ?? ''} ${e.sectionKey ?? ''}`.trim()),
    );
    expect(types).toEqual(
      expect.arrayContaining([
        `${r2} document.modified ${HUSLEIE_ID}`,
        `${r2} section.modified ${HUSLEIE_ID} §1-2`,
        `${r2} document.removed NL/lov/1917-06-01-1`,
        `${r2} run.finished`,
        `${r3} document.modified ${HUSLEIE_ID}`,
        `${r3} section.modified ${HUSLEIE_ID} §1-1`,
        `${r3} run.finished`,
      ]),
    );
    // Every request is signed with the subscription's secret over t.body; a wrong secret or a changed body fails.
    for (const r of receiver.requests) {
      const sig = r.headers['lovsync-signature'] as string;
      expect(verifySignature(sig, r.body, SECRET)).toBe(true);
      expect(verifySignature(sig, r.body, 'another-secret-0123456789')).toBe(false);
      expect(verifySignature(sig, `${r.body} `, SECRET)).toBe(false);
      expect(r.headers['lovsync-delivery']).toBe(parse(r).deliveryId);
    }
    // One document: exactly its events, no run.finished; a document that did not change: nothing at all.
    const husleie = await outboxIds([r2, r3], (e) => e.documentId === HUSLEIE_ID);
    expect(husleie.length).toBe(4);
    expect(delivered('/husleie')).toEqual(husleie);
    expect(on('/other')).toEqual([]);
    expect(await rows(env, 'SELECT * FROM deliveries WHERE subscription_id = $1', [subs.other])).toEqual([]);
    // Legal area by name (slug "husleie" matches "Fast eiendoms rettsforhold > Husleie"); ministry by name.
    expect(delivered('/area')).toEqual(husleie);
    const ministry = await outboxIds([r2, r3], (_e, ministries) =>
      ministries.includes('Kommunal- og distriktsdepartementet'),
    );
    expect(ministry).toEqual(expect.arrayContaining(husleie));
    expect(delivered('/ministry')).toEqual(ministry);
    expect(delivered('/runs')).toEqual(await outboxIds([r2, r3], (e) => e.type === 'run.finished'));

    // 503 three times, then delivered; run 3 only after run 2 succeeded.
    const flaky = on('/flaky');
    expect(flaky.slice(0, 4).map((r) => [parse(r).runId, r.status])).toEqual([
      [r2, 503],
      [r2, 503],
      [r2, 503],
      [r2, 200],
    ]);
    expect(flaky.slice(4).every((r) => parse(r).runId === r3 && r.status === 200)).toBe(true);
    expect(delivered('/flaky')).toEqual(all);
    expect(
      await rows(
        env,
        'SELECT run_id, status, attempts, response_code FROM deliveries WHERE subscription_id = $1 ORDER BY run_id',
        [subs.flaky],
      ),
    ).toEqual([
      { run_id: r2, status: 'succeeded', attempts: 4, response_code: 200 },
      { run_id: r3, status: 'succeeded', attempts: 1, response_code: 200 },
    ]);
    // Always 500: retried with backoff until the window ends, then dead-lettered; the next run after it.
    const attempts = deliveryAttempts(1, 50, 200);
    const dead = await rows<{
      run_id: number;
      status: string;
      attempts: number;
      response_code: number;
      last_error: string;
    }>(
      env,
      'SELECT run_id, status, attempts, response_code, last_error FROM deliveries WHERE subscription_id = $1 ORDER BY run_id',
      [subs.dead],
    );
    expect(dead.map((d) => [d.run_id, d.status, d.attempts, d.response_code])).toEqual([
      [r2, 'dead', attempts, 500],
      [r3, 'dead', attempts, 500],
    ]);
    expect(dead[0]!.last_error).toMatch(/^HTTP 500/);
    const deadRuns = on('/dead').map((r) => parse(r).runId);
    expect(deadRuns).toEqual([...Array(attempts).fill(r2), ...Array(attempts).fill(r3)]);
  }, 180_000);

  it('SIGKILL of the deliver worker mid-batch: every delivery id reaches the receiver at least once and the log shows success', async () => {
    const killSub = (
      await createSubscription(env.database.pool, { url: `${receiver.url}/kill`, secret: SECRET, all: true })
    ).id;
    receiver.behave = (path, n) => (path === '/kill' && n === 2 ? 'hang' : path === '/dead' ? 500 : 200);
    lover = edit(lover, HUSLEIE, 'kan gjøres skriftlig eller muntlig', 'kan inngås skriftlig eller muntlig');
    lover = edit(lover, HUSLEIE, 'til avtalt tid.', 'til den avtalte tid.');
    const r4 = await cycle(lover.filter((e) => e.path !== REMOVED));
    const childEnv = env.env({ ...FAST, JOB_LOCK_SECONDS: '2', DELIVERY_BATCH_EVENTS: '2' });
    children.push(await startWorkerProcess('deliver', childEnv));
    // The second batch of run 4 hangs in the receiver: kill the worker while it is in flight.
    await receiver.waitFor((r) => r.filter((x) => x.path === '/kill').length >= 2);
    await stopProcess(children[0]!, 'SIGKILL');
    children.push(await startWorkerProcess('deliver', childEnv));
    await waitNoPending();

    const log = await rows<{ delivery_id: string; status: string; batch: number; batches: number }>(
      env,
      'SELECT delivery_id, status, batch, batches FROM deliveries WHERE subscription_id = $1 ORDER BY batch',
      [killSub],
    );
    expect(log.length).toBeGreaterThanOrEqual(2);
    expect(log.every((d) => d.status === 'succeeded' && d.batches === log.length)).toBe(true);
    const seen = on('/kill').map((r) => parse(r).deliveryId);
    for (const d of log) expect(seen).toContain(d.delivery_id);
    // The batch in flight at the kill was sent again under the same delivery id.
    expect(seen.filter((id) => id === log[1]!.delivery_id).length).toBeGreaterThanOrEqual(2);
    expect(delivered('/kill')).toEqual(await outboxIds([r4], () => true));
  }, 180_000);
});

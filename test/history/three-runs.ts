/**
 * The three runs of husleieloven the history tests share (real fixture, edited like Lovdata does):
 *   run 1: the fixture as published (v1), lastModified 2025-01-10
 *   run 2: §9-3 edited, a changesToParent note naming lov/2025-06-20-93 added, lastChangedBy moved (v2), 2025-03-10
 *   run 3: §9-3 edited again with a second note entry (lov/2025-12-12-120), §1-2 edited (editorial) (v3), 2025-06-10
 * `extra` edits v3 further (e.g. hostile text for the escaping tests).
 */
import { join } from 'node:path';
import { buildTarBz2, fixtureEntries } from '@lovsync/testkit/archive/archive-builder';
import type { ArchiveEntry } from '@lovsync/testkit/archive/archive-entry';
import type { Emulator } from '@lovsync/testkit/emulator/server';
import { parsePending, syncAndDiff } from '@lovsync/testkit/support/cycle';
import type { Runtime } from '@lovsync/shared/runtime';

export const LOVER = 'gjeldende-lover.tar.bz2';
export const HUSLEIE = 'nl/nl-19990326-017.xml';
export const ID = 'NL/lov/1999-03-26-17';
export const T1 =
  'Det er ikke adgang til å inngå tidsbestemt leieavtale for bolig for kortere tid enn tre år.';
export const T2 =
  'Det er ikke adgang til å inngå tidsbestemt leieavtale for bolig for kortere tid enn fire år.';
export const T3 =
  'Det er ikke adgang til å inngå tidsbestemt leieavtale for bolig for kortere tid enn fem år.';
export const END_93 = 'skal avtalen anses som tidsubestemt.</article>';
export const NOTE2 =
  '<article class="changesToParent">Endret ved lov <a href="lov/2025-06-20-93">20 juni 2025 nr. 93</a> (ikr. 1 juli 2025).</article>';
export const NOTE3 =
  '<article class="changesToParent">Endret ved lover <a href="lov/2025-06-20-93">20 juni 2025 nr. 93</a> (ikr. 1 juli 2025), <a href="lov/2025-12-12-120">12 des 2025 nr. 120</a> (ikr. 1 jan 2026).</article>';
export const LCB_OLD =
  '<dd class="lastChangedBy"><a href="lov/2024-06-25-53">lov/2024-06-25-53</a> fra 2024-07-01</dd>';
export const LCB_NEW =
  '<dd class="lastChangedBy"><a href="lov/2025-06-20-93">lov/2025-06-20-93</a> fra 2025-07-01</dd>';
export const LEDD_12 = 'Ved leie av lokale kan loven fravikes i avtale';

export function edit(entries: ArchiveEntry[], path: string, fn: (xml: string) => string): ArchiveEntry[] {
  return entries.map((e) => {
    if (e.path !== path) return e;
    const before = (e.content as Buffer).toString('utf8');
    const after = fn(before);
    if (after === before) throw new Error('edit changed nothing');
    return { ...e, content: Buffer.from(after) };
  });
}
async function publish(
  ctx: Runtime,
  emu: Emulator,
  archives: string,
  entries: ArchiveEntry[],
  lastModified: string,
) {
  await buildTarBz2(entries, join(archives, LOVER));
  emu.setLastModified(LOVER, new Date(lastModified));
  const r = await syncAndDiff(ctx);
  await parsePending(ctx, r.runId);
  return r.runId;
}

export async function publishThreeRuns(
  ctx: Runtime,
  emu: Emulator,
  archives: string,
  extra: (xml: string) => string = (x) => x,
): Promise<number[]> {
  const v1 = fixtureEntries('gjeldende-lover');
  const r1 = await publish(ctx, emu, archives, v1, '2025-01-10T02:30:00Z');
  const v2 = edit(v1, HUSLEIE, (x) =>
    x
      .replace(T1, T2)
      .replace(END_93, END_93 + NOTE2)
      .replace(LCB_OLD, LCB_NEW),
  );
  const r2 = await publish(ctx, emu, archives, v2, '2025-03-10T02:30:00Z');
  const v3 = edit(v2, HUSLEIE, (x) =>
    extra(
      x
        .replace(T2, T3)
        .replace(NOTE2, NOTE3)
        .replace(LEDD_12, 'Ved leie av lokale kan loven likevel fravikes i avtale'),
    ),
  );
  const r3 = await publish(ctx, emu, archives, v3, '2025-06-10T02:30:00Z');
  return [r1, r2, r3];
}

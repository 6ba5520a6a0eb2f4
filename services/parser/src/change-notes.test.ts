import { describe, expect, it } from 'vitest';
import { lastChangedByAct, latestChange, parseChangeNotes } from './change-notes.ts';

describe('changesToParent notes', () => {
  it('reads every entry of a real husleieloven note (lov, lover lists, ikr with iflg. res.)', () => {
    const note =
      'Endret ved lover 25 juni 1999 nr. 46 (ikr. 25 juni 1999 iflg. res. 25 juni 1999 nr. 702), 16 jan 2009 nr. 6 (ikr. 1 sep 2009 iflg. res. 12 juni 2009 nr. 641).';
    const e = parseChangeNotes(note);
    expect(e.map((x) => [x.act, x.inForce])).toEqual([
      ['lov/1999-06-25-46', '1999-06-25'],
      ['lov/2009-01-16-6', '2009-09-01'],
    ]);
    expect(e[1]!.raw).toBe('16 jan 2009 nr. 6 (ikr. 1 sep 2009 iflg. res. 12 juni 2009 nr. 641)');
    expect(latestChange(e)!.act).toBe('lov/2009-01-16-6');
  });
  it('forskrift acts, no entries, impossible dates', () => {
    expect(
      parseChangeNotes('Endret ved forskrift 3 mars 2020 nr. 250 (ikr. 1 april 2020).')[0],
    ).toMatchObject({
      act: 'forskrift/2020-03-03-250',
      inForce: '2020-04-01',
    });
    expect(parseChangeNotes(null)).toEqual([]);
    expect(parseChangeNotes('Opphevet.')).toEqual([]);
    expect(parseChangeNotes('Endret ved lov 31 feb 2020 nr. 1 (ikr. 1 jan 2021).')).toEqual([]);
    expect(latestChange([])).toBeNull();
  });
  it('lastChangedBy refid', () => {
    expect(lastChangedByAct('lov/2024-06-25-53 fra 2024-07-01')).toBe('lov/2024-06-25-53');
    expect(lastChangedByAct(null)).toBeNull();
    expect(lastChangedByAct('ukjent')).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { MedrobustError } from '../core/errors.ts';
import { parseCsv, parseCsvTable } from './csv.ts';

describe('parseCsv', () => {
  it('splits plain fields and LF or CRLF records', () => {
    expect(parseCsv('a,b,c\n1,2,3\n')).toEqual([
      ['a', 'b', 'c'],
      ['1', '2', '3'],
    ]);
    expect(parseCsv('a,b\r\n1,2\r\n3,4')).toEqual([
      ['a', 'b'],
      ['1', '2'],
      ['3', '4'],
    ]);
  });

  it('reads quoted fields with commas, doubled quotes and line breaks', () => {
    expect(parseCsv('name,note\r\n"Smith, J","said ""hi""\r\nthen left"\r\n')).toEqual([
      ['name', 'note'],
      ['Smith, J', 'said "hi"\r\nthen left'],
    ]);
  });

  it('keeps empty fields and drops a byte-order mark', () => {
    expect(parseCsv('\uFEFFa,,c\n,,\n')).toEqual([
      ['a', '', 'c'],
      ['', '', ''],
    ]);
    expect(parseCsv('')).toEqual([]);
  });

  it('names the line of an unclosed quote', () => {
    expect(() => parseCsv('a\n"open\nstill', 'labels.csv')).toThrow(MedrobustError);
    expect(() => parseCsv('a\n"open\nstill', 'labels.csv')).toThrow(/labels\.csv.*line 2/);
  });
});

describe('parseCsvTable', () => {
  it('keys rows by trimmed column names, skips blank rows and numbers lines', () => {
    const table = parseCsvTable(' image ,level\r\nx,1\r\n\r\ny\r\n', 'trainLabels.csv');
    expect(table.columns).toEqual(['image', 'level']);
    expect(table.rows.map((row) => [row.line, row.values.get('image'), row.values.get('level')])).toEqual([
      [2, 'x', '1'],
      [4, 'y', ''],
    ]);
  });

  it('rejects an empty file', () => {
    expect(() => parseCsvTable('', 'empty.csv')).toThrow(/empty\.csv: the file is empty/);
  });
});

/**
 * A small CSV reader after RFC 4180: fields separated by commas, records by CRLF or LF (a lone CR
 * too), fields optionally quoted with `"`, a doubled `""` inside quotes standing for one quote, and
 * quoted fields free to hold commas and line breaks. A leading UTF-8 byte-order mark is dropped,
 * and so is a line break at the very end, but blank lines in between are kept as one empty field
 * (callers skip them). Input: the whole file as a string; output: rows of fields, header included.
 * Pure (no Node APIs), so the browser can use it too.
 */
import { MedrobustError } from '../core/errors.ts';

/** Parses CSV text into rows of string fields. `source` names the file in error messages. */
export function parseCsv(text: string, source = 'CSV'): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let index = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let quoteLine = 0;
  const endRow = () => {
    row.push(field);
    rows.push(row);
    row = [];
    field = '';
  };
  while (index < text.length) {
    const character = text[index] as string;
    if (quoted) {
      if (character === '"') {
        if (text[index + 1] === '"') {
          field += '"';
          index += 1;
        } else quoted = false;
      } else {
        if (character === '\n') line += 1;
        field += character;
      }
    } else if (character === '"' && field === '') {
      quoted = true;
      quoteLine = line;
    } else if (character === ',') {
      row.push(field);
      field = '';
    } else if (character === '\r' || character === '\n') {
      if (character === '\r' && text[index + 1] === '\n') index += 1;
      endRow();
      line += 1;
    } else field += character;
    index += 1;
  }
  if (quoted) {
    throw new MedrobustError(
      'invalid-data',
      `${source}: the quoted field opened on line ${quoteLine} never closes`,
      {
        hint: 'close the field with a double quote, and write a quote inside a quoted field as ""',
      },
    );
  }
  if (field !== '' || row.length > 0) endRow();
  return rows;
}

/** A parsed CSV with a header: rows as records keyed by column name, and each row's line number. */
export interface CsvTable {
  readonly columns: readonly string[];
  readonly rows: readonly { readonly line: number; readonly values: ReadonlyMap<string, string> }[];
}

/**
 * Parses CSV text whose first row names the columns (names trimmed). Blank rows are skipped;
 * `line` is the row's position among the records (the header is line 1), which equals the file's
 * line number unless quoted fields span lines.
 */
export function parseCsvTable(text: string, source = 'CSV'): CsvTable {
  const [header, ...records] = parseCsv(text, source);
  if (header === undefined) {
    throw new MedrobustError('invalid-data', `${source}: the file is empty`, {
      hint: 'a labels CSV starts with a header row naming its columns',
    });
  }
  const columns = header.map((name) => name.trim());
  const rows = records.flatMap((fields, position) => {
    if (fields.length === 1 && fields[0] === '') return [];
    const values = new Map(columns.map((name, column) => [name, fields[column] ?? ''] as const));
    return [{ line: position + 2, values }];
  });
  return { columns, rows };
}

import { TextDecoder } from 'node:util';
import { CsvError, CsvParser } from '../src/imports/csv-parser';

/** Parses `text` fed in pieces of `size` characters (1 splits every quote, CR and LF apart). */
function parse(text: string, size = text.length || 1, delimiter?: ',' | ';') {
  const parser = new CsvParser(delimiter, 10_000);
  const records = [];
  for (let i = 0; i < text.length; i += size) records.push(...parser.push(text.slice(i, i + size)));
  records.push(...parser.end());
  return { records: records.map((r) => ({ line: r.line, fields: r.fields })), separator: parser.separator };
}

describe('the streaming CSV parser', () => {
  const sizes = [1, 2, 3, 7, 1000];

  it.each(sizes)('reads quoted fields holding commas, quotes and line breaks (pieces of %i)', (size) => {
    const text = 'name,note\n"Doe, Jane","said ""hi""\nand left"\nplain,x\n';
    expect(parse(text, size).records).toEqual([
      { line: 1, fields: ['name', 'note'] },
      { line: 2, fields: ['Doe, Jane', 'said "hi"\nand left'] },
      { line: 4, fields: ['plain', 'x'] },
    ]);
  });

  it.each(sizes)('ends records at CRLF, even split between pieces (pieces of %i)', (size) => {
    const text = 'a,b\r\n1,2\r\n"x\r\ny",3\r\n';
    expect(parse(text, size).records).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['1', '2'] },
      { line: 3, fields: ['x\r\ny', '3'] },
    ]);
  });

  it('keeps the last record without a final line break, skips blank lines, keeps empty fields', () => {
    expect(parse('a,b\n\n,\n"",z').records).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 3, fields: ['', ''] },
      { line: 4, fields: ['', 'z'] },
    ]);
  });

  it.each(sizes)('detects `;` from the header line, commas inside fields staying text (pieces of %i)', (size) => {
    const { records, separator } = parse('name;email;note\n"Doe; J";j@x.io;1,5\n', size);
    expect(separator).toBe(';');
    expect(records[1]?.fields).toEqual(['Doe; J', 'j@x.io', '1,5']);
  });

  it('detects `,` when the header has more commas, and takes a given separator as told', () => {
    expect(parse('a,b;c\n1,2;3\n').separator).toBe(',');
    expect(parse('a,b;c\n1,2;3\n', 100, ';').records[1]?.fields).toEqual(['1,2', '3']);
  });

  it('reads a file that starts with a UTF-8 BOM, decoded in pieces (the BOM split across two)', () => {
    const bytes = Buffer.from('\uFEFFemail,name\r\nä@x.io,Zoë\r\n', 'utf8');
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const parser = new CsvParser(undefined, 10_000);
    const records = [];
    for (let i = 0; i < bytes.length; i += 2)
      records.push(...parser.push(decoder.decode(bytes.subarray(i, i + 2), { stream: true })));
    records.push(...parser.push(decoder.decode()), ...parser.end());
    expect(records.map((r) => r.fields)).toEqual([
      ['email', 'name'],
      ['ä@x.io', 'Zoë'],
    ]);
  });

  it('refuses a quoted field that is never closed, and a field past the limit, with their line', () => {
    expect(() => parse('a\n"open\n')).toThrow(CsvError);
    const parser = new CsvParser(',', 5);
    expect(() => parser.push('a,b\n123456,x\n')).toThrow(expect.objectContaining({ line: 2 }));
  });
});

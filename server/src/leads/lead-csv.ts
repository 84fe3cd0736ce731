import type { Lead } from '@parley/protocol';
import type { CsvDownload } from '../http/csv-stream';
import type { LeadDoc } from './lead-model';
import { toLead } from './lead-view';

export const CSV_COLUMNS = [
  'id',
  'userId',
  'kind',
  'fullname',
  'lastname',
  'email',
  'phone',
  'tags',
  'attributes',
  'conversationCount',
  'createdAt',
  'updatedAt',
  'lastSeenAt',
] as const;

/**
 * What a spreadsheet may take for a cell boundary when it guesses the delimiter: `,` here, but `;`
 * in locales with a decimal comma, tab and `|` in others, and line breaks.
 */
const SEPARATORS = ',;\t|\r\n';

/**
 * Text a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, and tab or carriage return that
 * some programs strip first) gets a leading apostrophe, at the start of the cell and after every
 * character that some spreadsheet takes for a separator: `x;=cmd|' /C calc'!A0` opened as a
 * `;`-delimited file is two cells, the second a formula. See OWASP "CSV Injection".
 */
const FORMULA_START = new RegExp(`(?<=^|[${SEPARATORS}])(?=[=+\\-@\\t\\r])`, 'g');

function neutralizeFormulas(value: string): string {
  return value.replace(FORMULA_START, "'");
}

/**
 * Every cell quoted (RFC 4180, quotes inside doubled), so that no spreadsheet splits one, whatever
 * delimiter it guesses; formulas neutralized inside.
 */
export function csvCell(raw: string | number | undefined): string {
  if (raw === undefined) return '""';
  return `"${neutralizeFormulas(String(raw)).replace(/"/g, '""')}"`;
}

/**
 * The column names: the constant ones, then `properties.{key}` per defined property (keys are
 * `[a-z][a-z0-9_]*`, so they need neither quotes nor guards either).
 */
export function csvHeader(propertyKeys: readonly string[] = []): string {
  return `${[...CSV_COLUMNS, ...propertyKeys.map((key) => `properties.${key}`)].join(',')}\r\n`;
}

export function csvRow(lead: Lead, propertyKeys: readonly string[] = []): string {
  const cells: (string | number | undefined)[] = [
    lead.id,
    lead.userId,
    lead.kind,
    lead.fullname,
    lead.lastname,
    lead.email,
    lead.phone,
    lead.tags.join(';'),
    Object.keys(lead.attributes).length > 0 ? JSON.stringify(lead.attributes) : '',
    lead.conversationCount,
    lead.createdAt,
    lead.updatedAt,
    lead.lastSeenAt,
    ...propertyKeys.map((key) => {
      const value = Object.hasOwn(lead.attributes, key) ? lead.attributes[key] : undefined;
      return value === undefined || value === null ? undefined : String(value);
    }),
  ];
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/** The contacts export (GET or by filter): a column per property after the fixed ones. */
export function contactsCsv(keys: readonly string[], cursor: CsvDownload<LeadDoc>['cursor']): CsvDownload<LeadDoc> {
  return {
    filename: 'contacts.csv',
    header: csvHeader(keys),
    cursor,
    row: (doc) => csvRow(toLead(doc), keys),
    what: 'contacts export',
  };
}

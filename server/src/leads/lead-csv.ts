import type { Lead } from '@parley/protocol';

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
 * Cells a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, and tab or carriage return that
 * some programs strip first) get a leading apostrophe, so an exported contact named
 * `=HYPERLINK(…)` stays text. See OWASP "CSV Injection".
 */
function neutralizeFormula(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

/** RFC 4180 quoting: quote when needed, double the quotes inside. */
export function csvCell(raw: string | number | undefined): string {
  if (raw === undefined) return '';
  const value = neutralizeFormula(String(raw));
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`;
}

export function csvRow(lead: Lead): string {
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
  ];
  return `${cells.map(csvCell).join(',')}\r\n`;
}

import type { AttributeValue, ImportMatchKey, ImportTarget } from '@parley/protocol';
import { attributeValueSchema, emailSchema, nameSchema, phoneSchema, tagSchema } from '@parley/protocol/schemas';
import type { z } from 'zod';
import type { ProfilePatch } from '../leads/lead-profile';

/** Where each mapped column sits in the file, worked out once from the header. */
export interface ColumnPlan {
  index: number;
  column: string;
  target: ImportTarget;
}

export interface RowIssue {
  column: string;
  message: string;
}

/** A data row made ready to write: its match key and the values it brings. */
export interface ImportRow {
  line: number;
  key: string;
  patch: ProfilePatch;
  /** Tags are added to a contact's own, never replace them. */
  tags: string[];
}

/** The header's mapped columns, or the columns the mapping names that the header lacks. */
export function planColumns(
  header: string[],
  mapping: { column: string; target: ImportTarget }[],
): { plan: ColumnPlan[] } | { missing: string[] } {
  const positions = new Map<string, number>();
  header.forEach((name, index) => {
    const key = name.trim();
    if (!positions.has(key)) positions.set(key, index);
  });
  const missing = mapping.filter((m) => !positions.has(m.column.trim())).map((m) => m.column);
  if (missing.length > 0) return { missing };
  return {
    plan: mapping
      .filter((m) => m.target !== 'ignore')
      .map((m) => ({ index: positions.get(m.column.trim()) as number, column: m.column, target: m.target })),
  };
}

/**
 * One CSV record as a profile change. Empty cells leave a field alone (an import never clears
 * what a contact holds); a bad cell refuses the whole row, so a row is written entirely or not.
 */
export function readRow(
  fields: string[],
  line: number,
  plan: ColumnPlan[],
  matchKey: ImportMatchKey,
): { row: ImportRow } | { issues: RowIssue[] } {
  const patch: ProfilePatch = {};
  const attributes: Record<string, AttributeValue> = {};
  const tags: string[] = [];
  const issues: RowIssue[] = [];
  let key = '';
  const check = <T>(schema: z.ZodType<T>, column: string, value: string): T | undefined => {
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    issues.push({ column, message: parsed.error.issues[0]?.message ?? 'invalid value' });
    return undefined;
  };
  for (const { index, column, target } of plan) {
    const value = (fields[index] ?? '').trim();
    if (value === '') continue;
    if (target === 'fullname' || target === 'lastname') {
      const name = check(nameSchema, column, value);
      if (name !== undefined) patch[target] = name;
    } else if (target === 'email') {
      const email = check(emailSchema, column, value);
      if (email !== undefined) patch.email = email;
    } else if (target === 'phone') {
      const phone = check(phoneSchema, column, value);
      if (phone !== undefined) patch.phone = phone;
    } else if (target === 'userId') {
      if (value.length > 200) issues.push({ column, message: 'a user id is at most 200 characters' });
      else key = value;
    } else if (target === 'tags') {
      // Within one cell, tags are separated by `,`, `;` or `|` (the cell is quoted when it holds the file's separator).
      for (const raw of value.split(/[,;|]/)) {
        const tag = raw.trim();
        if (tag === '') continue;
        const parsed = check(tagSchema, column, tag);
        if (parsed !== undefined) tags.push(parsed);
      }
    } else if (target.startsWith('attributes.')) {
      // Text for now: typed properties (issue 15, point 1) will convert values by their definition.
      const parsed = check(attributeValueSchema, column, value);
      if (parsed !== undefined && parsed !== null) attributes[target.slice('attributes.'.length)] = parsed;
    }
  }
  if (matchKey === 'email') key = patch.email ?? '';
  if (issues.length === 0 && key === '')
    issues.push({
      column: plan.find((p) => p.target === matchKey)?.column ?? matchKey,
      message: `the match key (${matchKey}) is empty`,
    });
  if (issues.length > 0) return { issues };
  if (Object.keys(attributes).length > 0) patch.attributes = attributes;
  return { row: { line, key, patch, tags } };
}

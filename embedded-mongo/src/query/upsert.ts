import type { Document } from 'bson';
import { cloneValue, hasField, isPlainObject, Rank, typeRank } from '../storage/values';
import { locate, setSlot } from './apply-update';
import { isRegex } from './regex';

/** The document an upsert starts from: the filter's equality fields (including `$and` clauses and one-value `$in`s). */
export function upsertSeed(filter: Document): Document {
  const seed: Document = {};
  const visit = (clause: Document) => {
    for (const [path, condition] of Object.entries(clause)) {
      if (path === '$and' && Array.isArray(condition)) {
        for (const sub of condition) if (isPlainObject(sub)) visit(sub);
        continue;
      }
      if (path.startsWith('$') || path.split('.').some((p) => p.startsWith('$'))) continue;
      let value: unknown;
      if (isPlainObject(condition) && Object.keys(condition)[0]?.startsWith('$')) {
        const list = condition['$in'];
        // A one-value $in is an equality to MongoDB, for upserts too.
        if (hasField(condition, '$eq')) value = condition['$eq'];
        else if (Array.isArray(list) && list.length === 1 && !isRegex(list[0])) value = list[0];
        else continue;
      } else if (isRegex(condition)) {
        continue;
      } else {
        value = condition;
      }
      if (typeRank(value) === Rank.Array && path === '_id') continue;
      const parts = path.split('.');
      const slot = locate(seed, parts, true);
      if (slot) setSlot(slot, cloneValue(value));
    }
  };
  visit(filter);
  return seed;
}

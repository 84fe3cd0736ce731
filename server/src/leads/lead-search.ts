import type { QueryFilter } from 'mongoose';
import type { Lead, Page } from '@parley/protocol';
import { LIMITS } from '@parley/protocol';
import type { LeadDoc, LeadModel } from './lead-model';
import { toLead } from './lead-view';

export interface LeadFilters {
  email?: string;
  q?: string;
  tag?: string;
}

/** Every character that means something in a regular expression, escaped. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/**
 * The query behind the contacts list and the CSV export. Input is literal text, never a regex or
 * an operator: `email` is an exact match on the normalized email (index `projectId_1_email_1`),
 * `q` an anchored prefix on the lower-cased search keys (index `projectId_1_searchKeys_1`, a range
 * scan), `tag` an exact tag (index `projectId_1_tags_1`). Merged-away leads are never listed.
 */
export function leadFilter(projectId: string, filters: LeadFilters): QueryFilter<LeadDoc> {
  const filter: QueryFilter<LeadDoc> = { projectId, mergedInto: { $exists: false } };
  if (filters.email !== undefined) filter.email = filters.email.trim().toLowerCase();
  if (filters.q !== undefined) filter.searchKeys = { $regex: `^${escapeRegex(filters.q.trim().toLowerCase())}` };
  if (filters.tag !== undefined) filter.tags = filters.tag;
  return filter;
}

export class LeadSearch {
  constructor(private readonly leads: LeadModel) {}

  async list(
    projectId: string,
    filters: LeadFilters,
    page = 1,
    limit: number = LIMITS.pageLimitDefault,
  ): Promise<Page<Lead>> {
    const filter = leadFilter(projectId, filters);
    const [items, total] = await Promise.all([
      this.leads
        .find(filter)
        .sort({ updatedAt: -1, _id: -1 })
        .skip((page - 1) * limit)
        .limit(limit)
        .lean<LeadDoc[]>()
        .exec(),
      this.leads.countDocuments(filter).exec(),
    ]);
    return { items: items.map(toLead), total, page, limit };
  }

  /** A cursor over every matching lead, oldest first, for streaming exports without buffering. */
  cursor(projectId: string, filters: LeadFilters) {
    return this.leads
      .find(leadFilter(projectId, filters))
      .sort({ createdAt: 1, _id: 1 })
      .lean<LeadDoc[]>()
      .cursor({ batchSize: 500 });
  }
}

import type { Lead } from '@parley/protocol';
import { iso, isoOrUndefined } from '../infra/ids';
import type { LeadDoc } from './lead-model';
import { originsOf } from './lead-origins';
import { toWireAttributes, toWireValue } from '../properties/property-values';

export function toLead(doc: LeadDoc): Lead {
  const lead: Lead = {
    id: doc._id,
    projectId: doc.projectId,
    userId: doc.userId,
    kind: doc.kind,
    attributes: toWireAttributes(doc.attributes),
    tags: [...doc.tags],
    conversationCount: doc.conversationCount,
    createdAt: iso(doc.createdAt),
    updatedAt: iso(doc.updatedAt),
  };
  if (doc.fullname !== undefined && doc.fullname !== null) lead.fullname = doc.fullname;
  if (doc.lastname !== undefined && doc.lastname !== null) lead.lastname = doc.lastname;
  if (doc.email !== undefined && doc.email !== null) lead.email = doc.email;
  if (doc.phone !== undefined && doc.phone !== null) lead.phone = doc.phone;
  const lastSeenAt = isoOrUndefined(doc.lastSeenAt);
  if (lastSeenAt) lead.lastSeenAt = lastSeenAt;
  if (doc.mergedInto) lead.mergedInto = doc.mergedInto;
  // For agents only: visitors get `visitorView` (lead-origins.ts), which never carries these.
  const origins = originsOf(doc);
  if (origins.size > 0) lead.origins = Object.fromEntries(origins);
  if (doc.keptApart && doc.keptApart.length > 0)
    lead.keptApart = doc.keptApart.map((kept) => ({ ...kept, value: toWireValue(kept.value) ?? '' }));
  if (doc.blocked) {
    lead.blocked = true;
    lead.blockedAt = iso(doc.blocked.at);
    lead.blockedBy = doc.blocked.by;
  }
  return lead;
}

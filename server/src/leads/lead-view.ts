import type { Lead, VisitorLeadView } from '@parley/protocol';
import { iso, isoOrUndefined } from '../infra/ids';
import type { LeadDoc } from './lead-model';

export function toLead(doc: LeadDoc): Lead {
  const lead: Lead = {
    id: doc._id,
    projectId: doc.projectId,
    userId: doc.userId,
    kind: doc.kind,
    attributes: { ...doc.attributes },
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
  return lead;
}

/** What a visitor sees of its own lead: never the agents' tags. */
export function toVisitorLeadView(lead: Lead): VisitorLeadView {
  const view: VisitorLeadView = {
    id: lead.id,
    attributes: { ...lead.attributes },
  };
  if (lead.fullname !== undefined) view.fullname = lead.fullname;
  if (lead.lastname !== undefined) view.lastname = lead.lastname;
  if (lead.email !== undefined) view.email = lead.email;
  if (lead.phone !== undefined) view.phone = lead.phone;
  return view;
}

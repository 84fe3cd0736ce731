import type { LeadActivity } from '@parley/protocol';
import { iso } from '../infra/ids';
import type { ActivityDoc } from './activity-model';

export function toActivity(doc: ActivityDoc): LeadActivity {
  return {
    id: doc._id,
    projectId: doc.projectId,
    ...(doc.leadId ? { leadId: doc.leadId } : {}),
    userId: doc.userId,
    kind: doc.kind,
    ...(doc.name !== undefined ? { name: doc.name } : {}),
    ...(doc.url !== undefined ? { url: doc.url } : {}),
    ...(doc.title !== undefined ? { title: doc.title } : {}),
    ...(doc.referrer !== undefined ? { referrer: doc.referrer } : {}),
    ...(doc.props !== undefined ? { props: doc.props } : {}),
    createdAt: iso(doc.createdAt),
  };
}

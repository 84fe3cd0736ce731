import type { Team } from '@parley/protocol';
import { iso } from '../infra/ids';
import type { TeamDoc } from './team-model';

export function toTeam(doc: TeamDoc): Team {
  return {
    id: doc._id,
    projectId: doc.projectId,
    name: doc.name,
    memberIds: [...doc.memberIds],
    createdAt: iso(doc.createdAt),
    updatedAt: iso(doc.updatedAt),
  };
}

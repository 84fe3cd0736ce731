import type { Team, TeamCreateInput, TeamUpdateInput } from '@parley/protocol';
import type { AgentService } from '../agents/agent-service';
import { AppError, isDuplicateKeyError, notFound } from '../errors';
import type { EventBus } from '../infra/event-bus';
import { newId } from '../infra/ids';
import type { TeamDoc, TeamModel } from './team-model';
import { toTeam } from './team-view';

/**
 * Teams of a project: a name and the agents in it. Conversations are routed to a team's online
 * members once transferred to it. Every change is published (`team.changed`) so that routing looks
 * at the team's waiting conversations again.
 */
export class TeamService {
  constructor(
    private readonly teams: TeamModel,
    private readonly agents: AgentService,
    private readonly bus: EventBus,
  ) {}

  async list(projectId: string): Promise<Team[]> {
    const docs = await this.teams.find({ projectId }).sort({ nameKey: 1 }).lean<TeamDoc[]>().exec();
    return docs.map(toTeam);
  }

  async get(projectId: string, teamId: string): Promise<Team> {
    return toTeam(await this.getDoc(projectId, teamId));
  }

  /** The team if it exists in the project; undefined otherwise (routing falls back to the project). */
  async find(projectId: string, teamId: string): Promise<Team | undefined> {
    const doc = await this.teams.findOne({ _id: teamId, projectId }).lean<TeamDoc>().exec();
    return doc ? toTeam(doc) : undefined;
  }

  async create(projectId: string, input: TeamCreateInput): Promise<Team> {
    const memberIds = input.memberIds ?? [];
    await this.assertMembers(projectId, memberIds);
    const now = new Date();
    const doc: TeamDoc = {
      _id: newId(),
      projectId,
      name: input.name,
      nameKey: nameKey(input.name),
      memberIds,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.teams.create(doc);
    } catch (error) {
      throw isDuplicateKeyError(error) ? nameTaken() : error;
    }
    await this.bus.publish('team.changed', { projectId, teamId: doc._id, removed: false });
    return toTeam(doc);
  }

  async update(projectId: string, teamId: string, input: TeamUpdateInput): Promise<Team> {
    if (input.memberIds) await this.assertMembers(projectId, input.memberIds);
    const set: Partial<TeamDoc> = { updatedAt: new Date() };
    if (input.name !== undefined) Object.assign(set, { name: input.name, nameKey: nameKey(input.name) });
    if (input.memberIds !== undefined) set.memberIds = input.memberIds;
    let doc: TeamDoc | null;
    try {
      doc = await this.teams
        .findOneAndUpdate({ _id: teamId, projectId }, { $set: set }, { returnDocument: 'after' })
        .lean<TeamDoc>()
        .exec();
    } catch (error) {
      throw isDuplicateKeyError(error) ? nameTaken() : error;
    }
    if (!doc) throw notFound('Team');
    await this.bus.publish('team.changed', { projectId, teamId, removed: false });
    return toTeam(doc);
  }

  async remove(projectId: string, teamId: string): Promise<void> {
    const deleted = await this.teams.deleteOne({ _id: teamId, projectId }).exec();
    if (deleted.deletedCount === 0) throw notFound('Team');
    await this.bus.publish('team.changed', { projectId, teamId, removed: true });
  }

  private async getDoc(projectId: string, teamId: string): Promise<TeamDoc> {
    const doc = await this.teams.findOne({ _id: teamId, projectId }).lean<TeamDoc>().exec();
    if (!doc) throw notFound('Team');
    return doc;
  }

  /** Members are agents of this project; anyone else (another project's agent, a typo) is refused. */
  private async assertMembers(projectId: string, memberIds: string[]): Promise<void> {
    if (memberIds.length === 0) return;
    const known = new Set((await this.agents.listForProject(projectId)).map((a) => a.id));
    const unknown = memberIds.filter((id) => !known.has(id));
    if (unknown.length > 0) {
      const message = `must be agents of this project (not: ${unknown.join(', ')})`;
      throw new AppError('BAD_REQUEST', `Invalid input: memberIds ${message}`, {
        fields: [{ field: 'memberIds', message }],
      });
    }
  }
}

function nameKey(name: string): string {
  return name.trim().toLowerCase();
}

function nameTaken(): AppError {
  return new AppError('CONFLICT', 'A team with this name already exists in the project');
}

import type { QueryFilter } from 'mongoose';
import type { ConversationChange, RoutingSettings } from '@parley/protocol';
import type { ConversationDoc, ConversationModel } from '../conversations/conversation-model';
import { toConversation } from '../conversations/conversation-view';
import type { EventBus } from '../infra/event-bus';
import { NO_OUTBOX, type OutboxMarker } from '../infra/outbox-mark';
import type { PresenceService } from '../presence/presence-service';
import type { TeamService } from '../teams/team-service';
import type { AgentSlots } from './agent-slots';
import { WAITING } from './conversation-states';
import type { Queue } from './queue';

export interface AssignerDeps {
  conversations: ConversationModel;
  slots: AgentSlots;
  queue: Queue;
  teams: TeamService;
  presence: PresenceService;
  bus: EventBus;
  /** Marks assignments whose events webhooks want, so that a crash cannot lose them (infra/outbox-mark.ts). */
  outbox?: OutboxMarker;
}

/** An online agent with room, as one pass sees it. */
interface Candidate {
  agentId: string;
  capacity: number;
  load: number;
  lastAssignedAt: number;
}

/** Fewest conversations first; among equals, the one assigned least recently; then by id. */
function byLoad(a: Candidate, b: Candidate): number {
  return a.load - b.load || a.lastAssignedAt - b.lastAssignedAt || (a.agentId < b.agentId ? -1 : 1);
}

/**
 * Assigns a project's waiting conversations, oldest first, each to an online agent of its team (or
 * of the project) with the fewest conversations and room left. Every decision is two atomic
 * updates, each safe whoever else decides at the same moment on any node:
 * 1. reserve a slot of the agent (succeeds only while it holds fewer than its capacity), then
 * 2. claim the conversation (succeeds only while it is still open and unassigned);
 * a claim that fails gives its slot back. So no agent is ever over capacity through routing and
 * no conversation is assigned twice; a node dying between the two leaves a reservation that
 * reconciliation frees (see AgentSlots).
 */
export class Assigner {
  constructor(private readonly deps: AssignerDeps) {}

  /**
   * One pass over the queue with `settings` (the caller checked the mode). `released`: a reserved
   * slot was given back (its conversation went elsewhere), which may have made another agent look
   * full to a pass running at the same time: worth another pass.
   */
  async pass(projectId: string, settings: RoutingSettings): Promise<{ assigned: number; released: boolean }> {
    const { queue, presence, slots } = this.deps;
    const waiting = await queue.waiting(projectId);
    if (waiting.length === 0) return { assigned: 0, released: false };
    const statuses = await presence.statuses(projectId);
    const online = [...statuses].filter(([, status]) => status === 'online').map(([agentId]) => agentId);
    if (online.length === 0) return { assigned: 0, released: false };

    const docs = await slots.of(online);
    await Promise.all(online.filter((id) => !docs.has(id)).map((id) => slots.ensure(projectId, id)));
    const candidates: Candidate[] = online.map((agentId) => {
      const doc = docs.get(agentId);
      return {
        agentId,
        capacity: doc?.capacity ?? settings.defaultCapacity,
        load: doc?.slots.length ?? 0,
        lastAssignedAt: doc?.lastAssignedAt?.getTime() ?? 0,
      };
    });

    const teams = new Map<string, Set<string> | undefined>();
    let assigned = 0;
    let released = false;
    for (const conversation of waiting) {
      const withRoom = candidates.filter((c) => c.load < c.capacity);
      if (withRoom.length === 0) break;
      const members = conversation.teamId ? await this.members(projectId, conversation.teamId, teams) : undefined;
      const eligible = (members ? withRoom.filter((c) => members.has(c.agentId)) : withRoom).sort(byLoad);
      for (const candidate of eligible) {
        if (!(await slots.reserve(projectId, candidate.agentId, conversation._id, candidate.capacity))) {
          // Another node filled its last slot meanwhile: full, as far as this pass is concerned.
          candidate.load = candidate.capacity;
          continue;
        }
        if (await this.claim(conversation, candidate.agentId)) {
          candidate.load += 1;
          candidate.lastAssignedAt = Date.now();
          assigned += 1;
        } else {
          released = true;
        }
        // Assigned here, or no longer waiting (assigned elsewhere, resolved): next conversation.
        break;
      }
    }
    return { assigned, released };
  }

  /** The conversation is the agent's if it is still waiting; else the reserved slot goes back. */
  private async claim(conversation: ConversationDoc, agentId: string): Promise<boolean> {
    const { conversations, slots, bus, outbox = NO_OUTBOX } = this.deps;
    const filter = { _id: conversation._id, projectId: conversation.projectId, ...WAITING };
    const change: ConversationChange = { by: { type: 'system' }, reason: 'auto' };
    const mark = await outbox.mark(conversation.projectId, 'conversation.updated', { change });
    const after = await conversations
      .findOneAndUpdate(
        filter as QueryFilter<ConversationDoc>,
        {
          $set: { assigneeId: agentId, updatedAt: new Date() },
          $unset: { queuedAt: '' },
          ...(mark ? { $push: { outbox: mark } } : {}),
        },
        { returnDocument: 'after' },
      )
      .lean<ConversationDoc>()
      .exec();
    if (!after) {
      await slots.cancel(agentId, conversation._id);
      return false;
    }
    await slots.confirm(agentId, conversation._id);
    await bus.publish('conversation.updated', { conversation: toConversation(after), change }, mark ? { mark } : {});
    return true;
  }

  /** A team's members, read once per pass; a team that no longer exists routes to the whole project. */
  private async members(
    projectId: string,
    teamId: string,
    known: Map<string, Set<string> | undefined>,
  ): Promise<Set<string> | undefined> {
    if (!known.has(teamId)) {
      const team = await this.deps.teams.find(projectId, teamId);
      known.set(teamId, team ? new Set(team.memberIds) : undefined);
    }
    return known.get(teamId);
  }
}

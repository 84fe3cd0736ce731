import type { QueryFilter } from 'mongoose';
import type {
  AgentRouting,
  Conversation,
  ConversationChange,
  ConversationTransferInput,
  RoutingSettings,
  RoutingSettingsUpdateInput,
} from '@parley/protocol';
import type { AgentService } from '../agents/agent-service';
import { changeActorOf, type Actor } from '../conversations/actor';
import { loadAccessibleConversation } from '../conversations/conversation-access';
import type { ConversationDoc, ConversationModel } from '../conversations/conversation-model';
import { toConversation } from '../conversations/conversation-view';
import { AppError, notFound } from '../errors';
import type { EventBus } from '../infra/event-bus';
import { NO_OUTBOX, type OutboxMarker } from '../infra/outbox-mark';
import type { Logger } from '../infra/logger';
import type { Metrics } from '../infra/metrics';
import type { PresenceService } from '../presence/presence-service';
import type { TeamService } from '../teams/team-service';
import type { Assigner } from './assigner';
import { AgentSlots, RESERVATION_MS } from './agent-slots';
import {
  COUNTING_STATUS,
  countsForAssignee,
  isEnded,
  isWaiting,
  REQUEUED_STATUSES,
  unassignedStatus,
  WAITING,
} from './conversation-states';
import type { RoutingSettingsService } from './routing-settings-service';

type AgentActor = Extract<Actor, { role: 'agent' }>;

export interface RoutingDeps {
  conversations: ConversationModel;
  slots: AgentSlots;
  assigner: Assigner;
  settings: RoutingSettingsService;
  teams: TeamService;
  agents: AgentService;
  presence: PresenceService;
  bus: EventBus;
  /** Marks the changes routing makes whose events webhooks want (infra/outbox-mark.ts). */
  outbox?: OutboxMarker;
  logger: Logger;
  metrics: Metrics;
  /** How often this node sweeps every automatically routed project. */
  sweepMs: number;
}

/** Reconciling every project's slots with its conversations happens once in this many sweeps. */
const RECONCILE_EVERY_SWEEPS = 6;

/** Reasons this service writes itself: it keeps the slots of those changes as it makes them. */
const OWN_REASONS = new Set(['auto', 'requeue', 'transfer']);

/**
 * Routing with capacity. Reacts to what the other services announce on the bus (a conversation
 * created or reopened: waiting; resolved, moved or erased: capacity freed; an agent online or
 * offline), and every node also sweeps every automatically routed project on a timer, so a missed
 * event (a node that died right after a write) leaves nothing forgotten in the queue. Passes over
 * one project run one at a time on a node; across nodes they may overlap, which the atomic
 * decisions of the Assigner make safe.
 */
export class RoutingService {
  private readonly passes = new Map<string, { again: boolean; done: Promise<void> }>();
  private readonly unsubscribe: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sweeps = 0;
  private sweeping: Promise<void> | undefined;
  private offlineRun: Promise<void> | undefined;
  private offlineAgain = false;
  private stopped = false;

  constructor(private readonly deps: RoutingDeps) {}

  start(): void {
    const { bus } = this.deps;
    this.unsubscribe.push(
      bus.subscribe('conversation.created', ({ conversation }) => {
        if (isWaiting(conversation)) void this.poke(conversation.projectId);
      }),
      bus.subscribe('conversation.updated', ({ conversation, change }) => {
        if (change?.reason && OWN_REASONS.has(change.reason)) return;
        void this.afterChange(conversation);
      }),
      bus.subscribe('agent.presence', ({ projectId, status }) => {
        if (status === 'online') void this.poke(projectId);
        if (status === 'offline') void this.handleOffline();
      }),
      bus.subscribe('team.changed', ({ projectId, teamId, removed }) => {
        void (removed ? this.detachTeam(projectId, teamId) : Promise.resolve())
          .catch((error: unknown) => this.deps.logger.warn({ err: error, teamId }, 'detaching a removed team failed'))
          .then(() => this.poke(projectId));
      }),
      // An erasure deletes conversations: whatever they held is freed (slots are kept in auto mode only).
      bus.subscribe('lead.deleted', ({ projectId }) => {
        void this.deps.settings
          .get(projectId)
          .then((settings) => (settings.mode === 'auto' ? this.reconcileProject(projectId) : undefined))
          .catch((error: unknown) => this.deps.logger.warn({ err: error, projectId }, 'routing reconcile failed'));
      }),
    );
    // Jittered, so that nodes started together do not sweep in lockstep.
    const every = this.deps.sweepMs;
    this.timer = setInterval(() => void this.sweep(), every + Math.floor(Math.random() * (every / 5)));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.unsubscribe.splice(0).forEach((off) => off());
    await Promise.allSettled([this.sweeping, this.offlineRun, ...[...this.passes.values()].map((p) => p.done)]);
  }

  /**
   * Looks at a project's queue again: runs a pass, or, if one is running on this node, one more
   * right after it (so nothing that happened during a pass is missed).
   */
  poke(projectId: string): Promise<void> {
    const running = this.passes.get(projectId);
    if (running) {
      running.again = true;
      return running.done;
    }
    const state = { again: true, done: Promise.resolve() };
    state.done = (async () => {
      try {
        while (state.again && !this.stopped) {
          state.again = false;
          const settings = await this.deps.settings.get(projectId);
          if (settings.mode !== 'auto') break;
          const { released } = await this.deps.assigner.pass(projectId, settings);
          if (released) state.again = true;
        }
      } catch (error) {
        // The next event or sweep tries again.
        this.deps.logger.warn({ err: error, projectId }, 'routing pass failed');
      } finally {
        this.passes.delete(projectId);
      }
    })();
    this.passes.set(projectId, state);
    return state.done;
  }

  // ---- settings ----

  async settings(projectId: string): Promise<RoutingSettings> {
    return this.deps.settings.get(projectId);
  }

  /** Switching to `auto`, or more capacity, assigns waiting conversations at once. */
  async updateSettings(projectId: string, input: RoutingSettingsUpdateInput): Promise<RoutingSettings> {
    const settings = await this.deps.settings.update(projectId, input);
    // Slots are not kept in manual mode: a project switched to auto starts from the truth.
    if (input.mode === 'auto') await this.reconcileProject(projectId, { poke: false });
    void this.poke(projectId);
    return settings;
  }

  /** Every agent of the project as routing sees it. */
  async agentsView(projectId: string): Promise<AgentRouting[]> {
    const agents = await this.deps.agents.listForProject(projectId);
    return this.view(
      projectId,
      agents.map((a) => a.id),
    );
  }

  /** An agent's own capacity (`null`: the project's default); raising it assigns at once. */
  async setCapacity(projectId: string, agentId: string, capacity: number | null): Promise<AgentRouting> {
    await this.deps.agents.get(projectId, agentId);
    await this.deps.slots.setCapacity(projectId, agentId, capacity);
    void this.poke(projectId);
    const [view] = await this.view(projectId, [agentId]);
    if (!view) throw notFound('Agent');
    return view;
  }

  private async view(projectId: string, agentIds: string[]): Promise<AgentRouting[]> {
    const [settings, statuses, docs, active] = await Promise.all([
      this.deps.settings.get(projectId),
      this.deps.presence.statuses(projectId),
      this.deps.slots.of(agentIds),
      this.activeCounts(projectId),
    ]);
    return agentIds.map((agentId) => {
      const capacity = docs.get(agentId)?.capacity;
      return {
        agentId,
        capacity: capacity ?? null,
        effectiveCapacity: capacity ?? settings.defaultCapacity,
        activeConversations: active.get(agentId) ?? 0,
        status: statuses.get(agentId) ?? 'offline',
      };
    });
  }

  /** Conversations counting against each agent of the project, from the conversations themselves. */
  private async activeCounts(projectId: string): Promise<Map<string, number>> {
    const rows = await this.deps.conversations
      .aggregate<{ _id: string; n: number }>([
        { $match: { projectId, assigneeId: { $ne: null }, status: COUNTING_STATUS } },
        { $group: { _id: '$assigneeId', n: { $sum: 1 } } },
      ])
      .exec();
    return new Map(rows.map((row) => [row._id, row.n]));
  }

  // ---- transfers ----

  /**
   * To an agent of the project (assigned to them whatever their capacity: a person decided), to a
   * team (unassigned, waiting for that team's online members), or to an agent of that team. A
   * conversation that changed meanwhile (resolved, reopened) is refused rather than overwritten.
   */
  async transfer(actor: AgentActor, input: ConversationTransferInput): Promise<Conversation> {
    const { conversations, teams, agents, slots, bus, outbox = NO_OUTBOX } = this.deps;
    const projectId = actor.projectId;
    const before = await loadAccessibleConversation(conversations, actor, input.conversationId);
    const team = input.teamId ? await teams.find(projectId, input.teamId) : undefined;
    if (input.teamId && !team) throw notFound('Team');
    if (input.agentId) {
      // An agent of another project is not found here, whatever it is there.
      await agents.get(projectId, input.agentId);
      if (team && !team.memberIds.includes(input.agentId)) {
        throw badRequest('agentId', 'must be a member of the team');
      }
    }
    if (isEnded(before)) throw badRequest('conversationId', 'is resolved: reopen it before transferring it');
    const sameTeam = input.teamId === undefined || input.teamId === before.teamId;
    const unchanged = input.agentId !== undefined ? input.agentId === before.assigneeId : !before.assigneeId;
    // Already there: nothing to write, nothing to announce.
    if (unchanged && sameTeam) return toConversation(before);

    const now = new Date();
    const change: ConversationChange = { by: changeActorOf(actor), reason: 'transfer' };
    const mark = await outbox.mark(projectId, 'conversation.updated', { change });
    const update = input.agentId
      ? {
          $set: { assigneeId: input.agentId, updatedAt: now, ...(input.teamId ? { teamId: input.teamId } : {}) },
          $unset: { queuedAt: '' },
        }
      : {
          $set: { teamId: input.teamId, status: unassignedStatus(before.status), queuedAt: now, updatedAt: now },
          $unset: { assigneeId: '' },
        };
    const after = await conversations
      .findOneAndUpdate(
        { _id: before._id, projectId, status: before.status },
        { ...update, ...(mark ? { $push: { outbox: mark } } : {}) },
        { returnDocument: 'after' },
      )
      .lean<ConversationDoc>()
      .exec();
    if (!after) throw new AppError('CONFLICT', 'The conversation changed meanwhile; try again');

    if (after.assigneeId) await slots.hold(projectId, after.assigneeId, after._id);
    else await slots.free(after._id);
    // Acknowledged once its webhook event is recorded (see EventBus.publish).
    await bus.publish('conversation.updated', { conversation: toConversation(after), change }, mark ? { mark } : {});
    void this.poke(projectId);
    return toConversation(after);
  }

  // ---- reacting to changes made elsewhere ----

  /**
   * A conversation changed elsewhere (joined, resolved, reopened, moved): its slots follow what it
   * is now, read afresh, and the queue is looked at when capacity was freed or it is waiting.
   */
  private async afterChange(conversation: Conversation): Promise<void> {
    try {
      // Manual routing keeps no slots: switching to auto reconciles the project first.
      if ((await this.deps.settings.get(conversation.projectId)).mode !== 'auto') return;
      const { freed, waiting } = await this.reconcile(conversation.id);
      if (freed || waiting) await this.poke(conversation.projectId);
    } catch (error) {
      this.deps.logger.warn({ err: error, conversationId: conversation.id }, 'routing could not follow a change');
    }
  }

  private async reconcile(conversationId: string): Promise<{ freed: boolean; waiting: boolean }> {
    const { conversations, slots } = this.deps;
    const doc = await conversations.findById(conversationId).lean<ConversationDoc>().exec();
    if (!doc) return { freed: await slots.free(conversationId), waiting: false };
    let freed = false;
    if (countsForAssignee(doc) && doc.assigneeId) await slots.hold(doc.projectId, doc.assigneeId, doc._id);
    else freed = await slots.free(doc._id);
    const waiting = isWaiting(doc);
    if (waiting && !doc.queuedAt) {
      // Reopened: it waits from now (a conversation starts with its `queuedAt`).
      const filter = { _id: doc._id, ...WAITING, queuedAt: { $exists: false } };
      await conversations.updateOne(filter as QueryFilter<ConversationDoc>, { $set: { queuedAt: new Date() } }).exec();
    } else if (!waiting && doc.queuedAt) {
      const filter = { _id: doc._id, $or: [{ assigneeId: { $exists: true } }, { status: { $ne: 'open' } }] };
      await conversations.updateOne(filter as QueryFilter<ConversationDoc>, { $unset: { queuedAt: '' } }).exec();
    }
    return { freed, waiting };
  }

  /**
   * Makes a project's slots the truth again: frees those of conversations that no longer count
   * against their agent (resolved, moved, erased: events a dead node never published), except
   * reservations still in flight, and holds those that count but were missed.
   */
  async reconcileProject(projectId: string, options: { poke?: boolean } = {}): Promise<void> {
    const { conversations, slots } = this.deps;
    const agentDocs = await slots.ofProject(projectId);
    const held = agentDocs.flatMap((doc) => doc.slots.map((slot) => ({ agentId: doc._id, slot })));
    const docs = new Map(
      (
        await conversations
          .find({ _id: { $in: held.map((h) => h.slot.c) } }, { assigneeId: 1, status: 1 })
          .lean<Pick<ConversationDoc, '_id' | 'assigneeId' | 'status'>[]>()
          .exec()
      ).map((doc) => [doc._id, doc]),
    );
    const reservedBefore = new Date(Date.now() - RESERVATION_MS);
    let freed = false;
    for (const { agentId, slot } of held) {
      const doc = docs.get(slot.c);
      if (doc && doc.assigneeId === agentId && countsForAssignee(doc)) continue;
      if (await slots.freeStale(agentId, slot.c, reservedBefore)) freed = true;
    }
    const holding = new Set(held.map((h) => `${h.agentId}:${h.slot.c}`));
    const counting = await conversations
      .find({ projectId, assigneeId: { $ne: null }, status: COUNTING_STATUS } as QueryFilter<ConversationDoc>, {
        assigneeId: 1,
      })
      .lean<Pick<ConversationDoc, '_id' | 'assigneeId'>[]>()
      .exec();
    for (const doc of counting) {
      if (doc.assigneeId && !holding.has(`${doc.assigneeId}:${doc._id}`)) {
        await slots.hold(projectId, doc.assigneeId, doc._id);
      }
    }
    if (freed && options.poke !== false) void this.poke(projectId);
  }

  // ---- agents going offline ----

  /**
   * Re-queues the open conversations of every agent announced offline and not yet handled, in
   * automatically routed projects that ask for it. Driven by the announcement on the node that
   * made it, and by every node's sweep (the announcement is kept in the presence store until
   * handled, so a node dying right after it loses nothing).
   */
  private handleOffline(): Promise<void> {
    if (this.offlineRun) {
      this.offlineAgain = true;
      return this.offlineRun;
    }
    this.offlineRun = (async () => {
      try {
        do {
          this.offlineAgain = false;
          for (const agent of await this.deps.presence.offlinePending()) {
            await this.requeueIfOffline(agent.projectId, agent.agentId);
            await this.deps.presence.offlineHandled(agent);
          }
        } while (this.offlineAgain && !this.stopped);
      } catch (error) {
        this.deps.logger.warn({ err: error }, 'handling offline agents failed');
      } finally {
        this.offlineRun = undefined;
      }
    })();
    return this.offlineRun;
  }

  private async requeueIfOffline(projectId: string, agentId: string): Promise<void> {
    const settings = await this.deps.settings.get(projectId);
    if (settings.mode !== 'auto' || !settings.requeueOffline) return;
    // Back already (a reconnect right after the announcement): keeps its conversations.
    const status = (await this.deps.presence.statuses(projectId)).get(agentId);
    if (status !== undefined && status !== 'offline') return;
    await this.requeue(projectId, agentId);
  }

  /** The agent's open conversations go back to the queue, keeping their place by when they started. */
  async requeue(projectId: string, agentId: string): Promise<number> {
    const { conversations, slots, bus, outbox = NO_OUTBOX } = this.deps;
    const change: ConversationChange = { by: { type: 'system' }, reason: 'requeue' };
    const docs = await conversations
      .find({ projectId, assigneeId: agentId, status: { $in: REQUEUED_STATUSES } } as QueryFilter<ConversationDoc>)
      .lean<ConversationDoc[]>()
      .exec();
    let requeued = 0;
    for (const doc of docs) {
      const mark = await outbox.mark(projectId, 'conversation.updated', { change });
      const after = await conversations
        .findOneAndUpdate(
          { _id: doc._id, assigneeId: agentId, status: doc.status },
          {
            $set: { status: unassignedStatus(doc.status), queuedAt: doc.createdAt, updatedAt: new Date() },
            $unset: { assigneeId: '' },
            ...(mark ? { $push: { outbox: mark } } : {}),
          },
          { returnDocument: 'after' },
        )
        .lean<ConversationDoc>()
        .exec();
      if (!after) continue;
      await slots.cancel(agentId, doc._id);
      requeued += 1;
      await bus.publish('conversation.updated', { conversation: toConversation(after), change }, mark ? { mark } : {});
    }
    if (requeued > 0) void this.poke(projectId);
    return requeued;
  }

  // ---- teams ----

  /** A removed team's conversations are routed to the whole project from now on. */
  private async detachTeam(projectId: string, teamId: string): Promise<void> {
    const { conversations, bus, outbox = NO_OUTBOX } = this.deps;
    const change: ConversationChange = { by: { type: 'system' } };
    const docs = await conversations
      .find({ projectId, teamId, status: COUNTING_STATUS } as QueryFilter<ConversationDoc>, { _id: 1 })
      .lean<Pick<ConversationDoc, '_id'>[]>()
      .exec();
    for (const { _id } of docs) {
      const mark = await outbox.mark(projectId, 'conversation.updated', { change });
      const after = await conversations
        .findOneAndUpdate(
          { _id, teamId },
          {
            $unset: { teamId: '' },
            $set: { updatedAt: new Date() },
            ...(mark ? { $push: { outbox: mark } } : {}),
          },
          { returnDocument: 'after' },
        )
        .lean<ConversationDoc>()
        .exec();
      if (after)
        await bus.publish(
          'conversation.updated',
          { conversation: toConversation(after), change },
          mark ? { mark } : {},
        );
    }
    // Resolved ones change silently: nobody is looking at them.
    await conversations.updateMany({ projectId, teamId }, { $unset: { teamId: '' } }).exec();
  }

  // ---- the sweep ----

  private sweep(): Promise<void> {
    if (this.sweeping || this.stopped) return this.sweeping ?? Promise.resolve();
    this.sweeping = (async () => {
      try {
        await this.handleOffline();
        const projects = await this.deps.settings.autoProjects();
        const reconcile = ++this.sweeps % RECONCILE_EVERY_SWEEPS === 0;
        for (const projectId of projects) {
          if (this.stopped) break;
          if (reconcile) await this.reconcileProject(projectId, { poke: false });
          await this.poke(projectId);
        }
        this.deps.metrics.routingSweeps.inc({ outcome: 'ok' });
      } catch (error) {
        this.deps.metrics.routingSweeps.inc({ outcome: 'failed' });
        this.deps.logger.warn({ err: error }, 'routing sweep failed');
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }
}

function badRequest(field: string, message: string): AppError {
  return new AppError('BAD_REQUEST', `Invalid input: ${field} ${message}`, { fields: [{ field, message }] });
}

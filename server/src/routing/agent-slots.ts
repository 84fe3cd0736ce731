import type { QueryFilter } from 'mongoose';
import { isDuplicateKeyError } from '../errors';
import type { AgentRoutingDoc, AgentRoutingModel } from './agent-routing-model';

/**
 * A reservation younger than this is a routing decision in flight (slot taken, assignment not yet
 * written): reconciling leaves it alone. Older, it was left by a node that died in between.
 */
export const RESERVATION_MS = 30_000;

/**
 * The conversations held against each agent's capacity, one document per agent. Every change is
 * one atomic update of that document, so two nodes deciding at once can never both fill the last
 * free slot.
 */
export class AgentSlots {
  constructor(private readonly agents: AgentRoutingModel) {}

  /** The agents' documents (an agent without one holds nothing and has no capacity of its own). */
  async of(agentIds: string[]): Promise<Map<string, AgentRoutingDoc>> {
    if (agentIds.length === 0) return new Map();
    const docs = await this.agents
      .find({ _id: { $in: agentIds } })
      .lean<AgentRoutingDoc[]>()
      .exec();
    return new Map(docs.map((doc) => [doc._id, doc]));
  }

  async ofProject(projectId: string): Promise<AgentRoutingDoc[]> {
    return this.agents.find({ projectId }).lean<AgentRoutingDoc[]>().exec();
  }

  /**
   * Reserves a slot of the agent for the conversation, if it holds fewer than `capacity` (one
   * conditional update: the array has no element at index capacity - 1). False when full, or when
   * the agent has no document yet (`ensure` first).
   */
  async reserve(projectId: string, agentId: string, conversationId: string, capacity: number): Promise<boolean> {
    if (capacity <= 0) return false;
    const now = new Date();
    const filter: QueryFilter<AgentRoutingDoc> = {
      _id: agentId,
      projectId,
      [`slots.${capacity - 1}`]: { $exists: false },
      'slots.c': { $ne: conversationId },
    };
    const taken = await this.agents
      .updateOne(filter, { $push: { slots: { c: conversationId, at: now, r: true } }, $set: { lastAssignedAt: now } })
      .exec();
    return taken.modifiedCount === 1;
  }

  /** The conversation was assigned: its reservation is a held slot from now on. */
  async confirm(agentId: string, conversationId: string): Promise<void> {
    await this.agents.updateOne({ _id: agentId, 'slots.c': conversationId }, { $unset: { 'slots.$.r': '' } }).exec();
  }

  /** Gives back a reservation whose assignment did not happen. */
  async cancel(agentId: string, conversationId: string): Promise<void> {
    await this.agents.updateOne({ _id: agentId }, { $pull: { slots: { c: conversationId } } }).exec();
  }

  /**
   * The conversation counts against this agent (assigned by hand, transferred, reopened with its
   * assignee), whatever its capacity; no other agent holds it any more.
   */
  async hold(projectId: string, agentId: string, conversationId: string): Promise<void> {
    await this.agents
      .updateMany({ 'slots.c': conversationId, _id: { $ne: agentId } }, { $pull: { slots: { c: conversationId } } })
      .exec();
    await this.ensure(projectId, agentId);
    await this.agents
      .updateOne(
        { _id: agentId, 'slots.c': { $ne: conversationId } },
        { $push: { slots: { c: conversationId, at: new Date() } } },
      )
      .exec();
  }

  /**
   * The conversation counts against nobody: every slot holding it is freed, except reservations
   * still in flight. True when a slot was freed.
   */
  async free(conversationId: string): Promise<boolean> {
    const settled = { $or: [{ r: { $ne: true } }, { at: { $lt: new Date(Date.now() - RESERVATION_MS) } }] };
    const freed = await this.agents
      .updateMany({ 'slots.c': conversationId }, { $pull: { slots: { c: conversationId, ...settled } } })
      .exec();
    return freed.modifiedCount > 0;
  }

  /** Frees one agent's slot of a conversation that no longer counts against it (a reconciliation). */
  async freeStale(agentId: string, conversationId: string, reservedBefore: Date): Promise<boolean> {
    const settled = { $or: [{ r: { $ne: true } }, { at: { $lt: reservedBefore } }] };
    const freed = await this.agents
      .updateOne({ _id: agentId }, { $pull: { slots: { c: conversationId, ...settled } } })
      .exec();
    return freed.modifiedCount > 0;
  }

  async setCapacity(projectId: string, agentId: string, capacity: number | null): Promise<AgentRoutingDoc> {
    await this.ensure(projectId, agentId);
    const doc = await this.agents
      .findOneAndUpdate(
        { _id: agentId, projectId },
        capacity === null ? { $unset: { capacity: '' } } : { $set: { capacity } },
        { returnDocument: 'after' },
      )
      .lean<AgentRoutingDoc>()
      .exec();
    // `ensure` made it; only an agent document of another project under this id could miss here.
    if (!doc) throw new Error(`agent routing document ${agentId} is not in project ${projectId}`);
    return doc;
  }

  /** Creates the agent's document if it has none (racing creations end with one). */
  async ensure(projectId: string, agentId: string): Promise<void> {
    try {
      await this.agents
        .updateOne({ _id: agentId }, { $setOnInsert: { projectId, slots: [] } }, { upsert: true })
        .exec();
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
  }
}

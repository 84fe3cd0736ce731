import type { Lead } from '@parley/protocol';
import { AppError, notFound } from '../errors';
import type { EventBus } from '../infra/event-bus';
import type { LeaseLocks } from '../infra/lease-lock';
import { NO_OUTBOX, type OutboxMarker } from '../infra/outbox-mark';
import { LEAD_LOCK, leadLockName } from './lead-merge';
import type { LeadDoc, LeadModel } from './lead-model';
import { LeadHistory } from './lead-history';
import { toLead } from './lead-view';
import type { BlockGate } from './visitor-block-gate';

/**
 * Blocking and unblocking a lead (issue 15). The state lives on the lead and on every lead merged
 * into it (their user ids resolve to it), so a visitor's check reads its own user's document only.
 * Runs under the project's contacts lock, like merges and erasures: a merge never moves leads in or
 * out of a lead while it is being blocked. Each step can be repeated: a block that stopped half-way
 * (crash, Redis refusing the raise) is finished by asking again.
 *
 * 1. set `blocked` (or unset it) and raise `blockRev` on the lead and the leads merged into it;
 * 2. raise the shared state of each of their users (BlockGate) to the new revision;
 * 3. wait until no command that passed the check before the raise is still running (drain);
 * 4. close the visitors' sockets on every node (`visitor.blocked`) and tell the agents and
 *    webhooks (`lead.updated` with `changes: ['blocked']`); the lead's timeline gets an edit of
 *    `blocked` by the agent, in the same write (see lead-history.ts).
 */
export class LeadBlock {
  constructor(
    private readonly leads: LeadModel,
    private readonly gate: BlockGate,
    private readonly locks: LeaseLocks,
    private readonly bus: EventBus,
    private readonly outbox: OutboxMarker = NO_OUTBOX,
    private readonly history?: LeadHistory,
  ) {}

  block(projectId: string, leadId: string, agentId: string): Promise<Lead> {
    return this.locks.withLock(leadLockName(projectId), LEAD_LOCK, () =>
      this.set(projectId, leadId, { at: new Date(), by: agentId }, agentId),
    );
  }

  /** `agentId`: who unblocks, for the timeline (absent: the entry names no agent). */
  unblock(projectId: string, leadId: string, agentId?: string): Promise<Lead> {
    return this.locks.withLock(leadLockName(projectId), LEAD_LOCK, () =>
      this.set(projectId, leadId, undefined, agentId),
    );
  }

  /**
   * After a merge (under its lock): when the target or any source was blocked, the whole merged
   * lead is. Blocking is the safe side: a merge must not let a blocked person back in through the
   * contact they were merged with; an agent who disagrees unblocks the merged lead.
   */
  async afterMerge(target: LeadDoc, sources: LeadDoc[]): Promise<void> {
    const blocked = [target, ...sources].find((lead) => lead.blocked)?.blocked;
    if (blocked) await this.set(target.projectId, target._id, target.blocked ?? blocked, undefined, true);
  }

  /** `byMerge`: the block follows a merge, which the timeline shows already (no edit of its own). */
  private async set(
    projectId: string,
    leadId: string,
    blocked: LeadDoc['blocked'],
    agentId: string | undefined,
    byMerge = false,
  ): Promise<Lead> {
    const lead = await this.leads.findOne({ _id: leadId, projectId }).lean<LeadDoc>().exec();
    if (!lead) throw notFound('Lead');
    if (lead.mergedInto)
      throw new AppError('CONFLICT', 'The lead was merged into another lead: block or unblock that one', {
        mergedInto: lead.mergedInto,
      });
    const family = await this.leads
      .find({ projectId, $or: [{ _id: leadId }, { mergedInto: leadId }] }, { _id: 1, userId: 1, blocked: 1 })
      .lean<Pick<LeadDoc, '_id' | 'userId' | 'blocked'>[]>()
      .exec();
    const changed = Boolean(lead.blocked) !== Boolean(blocked);
    const ids = family.map((member) => member._id);
    if (changed || family.some((member) => Boolean(member.blocked) !== Boolean(blocked))) {
      const update = blocked ? { $set: { blocked } } : { $unset: { blocked: '' } };
      await this.leads.updateMany({ projectId, _id: { $in: ids } }, { ...update, $inc: { blockRev: 1 } }).exec();
    }
    const revs = await this.leads
      .find({ projectId, _id: { $in: ids } }, { userId: 1, blockRev: 1 })
      .lean<Pick<LeadDoc, '_id' | 'userId' | 'blockRev'>[]>()
      .exec();
    // Repeated on every call, even when nothing changed: an earlier call may have stopped here.
    const userIds = revs.map((member) => member.userId);
    try {
      for (const member of revs) {
        await this.gate.raise(projectId, member.userId, { rev: member.blockRev ?? 0, blocked: Boolean(blocked) });
      }
      if (blocked) await Promise.all(userIds.map((userId) => this.gate.drain(projectId, userId)));
    } catch (error) {
      if (error instanceof AppError) throw error;
      // The database holds the block, and a node that cannot read Redis checks the database: close
      // the sockets all the same. Asking again applies the rest (every step is repeated).
      if (blocked) await this.bus.publish('visitor.blocked', { projectId, userIds });
      throw new AppError('UNAVAILABLE', 'The block is stored but not yet applied everywhere; try again');
    }
    if (blocked) await this.bus.publish('visitor.blocked', { projectId, userIds });

    let after: LeadDoc;
    if (changed) {
      const mark = await this.outbox.mark(projectId, 'lead.updated', { changes: ['blocked'] });
      const entry =
        this.history && !byMerge
          ? LeadHistory.edited(['blocked'], agentId ? { type: 'agent', id: agentId } : { type: 'agent' })
          : undefined;
      const push: Record<string, unknown> = {};
      if (mark) push['outbox'] = mark;
      if (entry) push['historyPending'] = entry;
      const result = await this.leads
        .findOneAndUpdate(
          { _id: leadId, projectId },
          {
            $set: { updatedAt: new Date() },
            $inc: { rev: 1 },
            ...(Object.keys(push).length > 0 ? { $push: push } : {}),
          },
          { returnDocument: 'after' },
        )
        .lean<LeadDoc>()
        .exec();
      if (!result) throw notFound('Lead');
      after = result;
      // Copied now; a crash before this leaves it pending, for the timeline's next read.
      if (entry) await this.history?.flush(projectId, leadId, [entry]).catch(() => undefined);
      await this.bus.publish('lead.updated', { lead: toLead(after), changes: ['blocked'] }, mark ? { mark } : {});
    } else {
      after = (await this.leads.findOne({ _id: leadId, projectId }).lean<LeadDoc>().exec()) ?? lead;
    }
    return toLead(after);
  }
}

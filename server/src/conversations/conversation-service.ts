import { randomUUID } from 'node:crypto';
import type { Attributes, Conversation, Message } from '@parley/protocol';
import { isDuplicateKeyError, notFound } from '../errors';
import type { EventBus } from '../infra/event-bus';
import { newId } from '../infra/ids';
import { marksOf, NO_OUTBOX, type OutboxMarker } from '../infra/outbox-mark';
import { rawCollection } from '../infra/raw-collection';
import type { LeadDoc } from '../leads/lead-model';
import type { LeadService } from '../leads/lead-service';
import { toLead } from '../leads/lead-view';
import type { MessageService } from '../messages/message-service';
import { senderOf, type Actor } from './actor';
import { loadAccessibleConversation } from './conversation-access';
import type { ConversationDoc, ConversationModel } from './conversation-model';
import { toConversation } from './conversation-view';

/** How many of a visitor's own conversations `conversation:list` returns, newest first. */
const VISITOR_LIST_LIMIT = 100;

export interface StartInput {
  requestId?: string;
  text?: string;
  clientMessageId?: string;
  attributes?: Attributes;
}

export interface StartOptions {
  /** Runs after the input's own checks and before anything is written (rate limits); may throw. */
  beforeCreate?: () => Promise<void>;
}

export interface StartResult {
  conversation: Conversation;
  message?: Message;
  created: boolean;
}

type VisitorActor = Extract<Actor, { role: 'visitor' }>;
type AgentActor = Extract<Actor, { role: 'agent' }>;

/**
 * Conversations between a visitor and the project's agents. Every conversation of a user lands in
 * that user's lead (created on the first one). `requestId` makes a retried start idempotent through
 * a unique index: the retry gets the first attempt's conversation and nothing is published again.
 */
export class ConversationService {
  constructor(
    private readonly conversations: ConversationModel,
    private readonly leads: LeadService,
    private readonly messages: MessageService,
    private readonly bus: EventBus,
    private readonly outbox: OutboxMarker = NO_OUTBOX,
  ) {}

  /**
   * Starts a conversation, with its first message when `text` is given. Everything that can refuse
   * the request (the text's length, `beforeCreate`'s rate limits) runs before anything is written,
   * so a refused start leaves nothing behind.
   */
  async start(actor: VisitorActor, input: StartInput, options: StartOptions = {}): Promise<StartResult> {
    if (input.text !== undefined) this.messages.assertText(input.text);
    await options.beforeCreate?.();
    const { lead } = await this.leads.resolveForUser(actor.projectId, actor.userId, actor.visitorKind);
    const now = new Date();
    const attributes: Attributes = {};
    for (const [key, value] of Object.entries(input.attributes ?? {})) if (value !== null) attributes[key] = value;
    const mark = await this.outbox.mark(actor.projectId, 'conversation.created');
    const doc: ConversationDoc = {
      _id: newId(),
      projectId: actor.projectId,
      leadId: lead._id,
      userId: actor.userId,
      status: 'open',
      participants: [actor.userId],
      messageCount: 0,
      lastSeq: 0,
      attributes,
      createdAt: now,
      updatedAt: now,
      announced: false,
      ...(input.requestId ? { requestId: input.requestId } : {}),
      // `conversation.created` survives a crash before it was announced (see infra/outbox-mark.ts).
      ...(mark ? { outbox: [mark] } : {}),
    };

    let conversation = doc;
    let created = true;
    try {
      await rawCollection(this.conversations).insertOne(doc);
    } catch (error) {
      if (!input.requestId || !isDuplicateKeyError(error)) throw error;
      const existing = await this.conversations
        .findOne({
          projectId: actor.projectId,
          userId: actor.userId,
          requestId: input.requestId,
        })
        .lean<ConversationDoc>()
        .exec();
      if (!existing) throw error;
      conversation = existing;
      created = false;
    }

    // A retry finishes what a start cut short by a crash (stored, never counted or announced).
    if (conversation.announced === false) await this.announce(conversation, lead);

    if (input.text === undefined) return { conversation: toConversation(conversation), created };

    // The first message is idempotent too: a retry without a clientMessageId reuses one derived
    // from the requestId, so it finds the message the first attempt stored.
    const clientMessageId = input.clientMessageId ?? `first:${input.requestId ?? randomUUID()}`;
    const sent = await this.messages.send(actor, {
      conversationId: conversation._id,
      clientMessageId,
      text: input.text,
    });
    return {
      conversation: toConversation(sent.conversation),
      message: sent.message,
      created,
    };
  }

  /**
   * Counts the conversation on its lead and publishes `conversation.created`, once, whoever gets
   * here: the start itself, or retries racing it after it stalled or crashed. The count is a
   * recount, so doing it twice is harmless; the announcement is claimed by clearing the
   * `announced: false` marker, which only one caller can do.
   */
  private async announce(conversation: ConversationDoc, lead: LeadDoc): Promise<void> {
    const conversationCount = await this.leads.recountConversations(conversation.projectId, lead._id);
    const claimed = await this.conversations
      .updateOne({ _id: conversation._id, announced: false }, { $unset: { announced: '' } })
      .exec();
    if (claimed.modifiedCount !== 1) return;
    delete conversation.announced;
    const mark = marksOf(conversation, 'conversation.created');
    await this.bus.publish(
      'conversation.created',
      {
        conversation: toConversation(conversation),
        lead: toLead({ ...lead, conversationCount: Math.max(lead.conversationCount, conversationCount) }),
      },
      mark ? { mark } : {},
    );
  }

  async listForVisitor(actor: VisitorActor): Promise<Conversation[]> {
    const docs = await this.conversations
      .find({ projectId: actor.projectId, userId: actor.userId })
      .sort({ updatedAt: -1 })
      .limit(VISITOR_LIST_LIMIT)
      .lean<ConversationDoc[]>()
      .exec();
    return docs.map(toConversation);
  }

  async get(actor: Actor, conversationId: string): Promise<Conversation> {
    return toConversation(await loadAccessibleConversation(this.conversations, actor, conversationId));
  }

  /** The agent becomes assignee and participant; a closed conversation is reopened as assigned. */
  async join(actor: AgentActor, conversationId: string): Promise<Conversation> {
    const before = await loadAccessibleConversation(this.conversations, actor, conversationId);
    const alreadyThere =
      before.assigneeId === actor.agentId &&
      before.status === 'assigned' &&
      before.participants.includes(actor.agentId);
    if (alreadyThere) return toConversation(before);
    const mark = await this.outbox.mark(actor.projectId, 'conversation.updated');
    const after = await this.conversations
      .findOneAndUpdate(
        { _id: conversationId, projectId: actor.projectId },
        {
          $set: {
            assigneeId: actor.agentId,
            status: 'assigned',
            updatedAt: new Date(),
          },
          $addToSet: { participants: actor.agentId },
          $unset: { closedAt: '' },
          ...(mark ? { $push: { outbox: mark } } : {}),
        },
        { returnDocument: 'after' },
      )
      .lean<ConversationDoc>()
      .exec();
    if (!after) throw notFound('Conversation');
    const conversation = toConversation(after);
    await this.bus.publish('conversation.updated', { conversation }, mark ? { mark } : {});
    return conversation;
  }

  async close(actor: AgentActor, conversationId: string): Promise<Conversation> {
    const before = await loadAccessibleConversation(this.conversations, actor, conversationId);
    if (before.status === 'closed') return toConversation(before);
    const now = new Date();
    const mark = await this.outbox.mark(actor.projectId, 'conversation.updated');
    const after = await this.conversations
      .findOneAndUpdate(
        {
          _id: conversationId,
          projectId: actor.projectId,
          status: { $ne: 'closed' },
        },
        {
          $set: { status: 'closed', closedAt: now, updatedAt: now },
          ...(mark ? { $push: { outbox: mark } } : {}),
        },
        { returnDocument: 'after' },
      )
      .lean<ConversationDoc>()
      .exec();
    // Someone else closed it between our read and write: report it closed, publish nothing twice.
    if (!after) return this.get(actor, conversationId);
    const conversation = toConversation(after);
    await this.bus.publish('conversation.updated', { conversation }, mark ? { mark } : {});
    return conversation;
  }

  /** Typing indicators are not stored; access is checked so nobody can type into others' chats. */
  async typing(actor: Actor, conversationId: string, typing: boolean, originId?: string): Promise<void> {
    const conversation = await loadAccessibleConversation(this.conversations, actor, conversationId);
    await this.bus.publish('typing', {
      projectId: conversation.projectId,
      userId: conversation.userId,
      conversationId,
      sender: senderOf(actor),
      typing,
      ...(originId ? { originId } : {}),
    });
  }
}

import { randomUUID } from 'node:crypto';
import type { Attributes, Conversation, ConversationChange, Message } from '@parley/protocol';
import { AppError, isDuplicateKeyError } from '../errors';
import type { EventBus } from '../infra/event-bus';
import { newId } from '../infra/ids';
import { marksOf, NO_OUTBOX, type OutboxMarker } from '../infra/outbox-mark';
import { rawCollection } from '../infra/raw-collection';
import type { LeadDoc } from '../leads/lead-model';
import type { LeadService } from '../leads/lead-service';
import { toLead } from '../leads/lead-view';
import type { MessageService, SendInput } from '../messages/message-service';
import { ConversationResolvedError } from '../messages/message-writer';
import { changeActorOf, senderOf, type Actor, type AgentActor, type VisitorActor } from './actor';
import { loadAccessibleConversation } from './conversation-access';
import type { ConversationDoc, ConversationModel } from './conversation-model';
import { statusOf } from './conversation-status';
import { toConversation } from './conversation-view';
import type { ReadPositions } from './read-positions';
import { newNote } from './status-notes';

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

export interface ReplyOptions {
  /** Rate limits of the message, before it is written; may throw. */
  beforeWrite?: () => Promise<void>;
  /** Rate limits of a new conversation the message starts (see `reply`), before it is created. */
  beforeContinue?: () => Promise<void>;
}

export interface ReplyResult {
  message: Message;
  /** The conversation the message started, when the one it was sent to is resolved. */
  conversation?: Conversation;
}

/** Resolved continuations followed for one message, at most (each one resolved again in between). */
const MAX_CONTINUATIONS = 5;
/** Joins retried when the status changed between the read and the write. */
const MAX_JOIN_ATTEMPTS = 5;

/** Fields another domain decides when a conversation starts, written with its insert. */
export type StartFields = Partial<Pick<ConversationDoc, 'offline' | 'queuedAt' | 'teamId'>>;

export interface ConversationServiceOptions {
  /**
   * The workflow's say on a new conversation (routing: whether it starts `offline`, its place in
   * the queue), so that it is part of the insert and of `conversation.created`, never a second
   * write a crash could lose.
   */
  startFields?: (projectId: string, now: Date) => Promise<StartFields>;
  /** Marks changes whose events webhooks want, so that a crash cannot lose them (infra/outbox-mark.ts). */
  outbox?: OutboxMarker;
}

/**
 * Conversations between a visitor and the project's agents. Every conversation of a user lands in
 * that user's lead (created on the first one). `requestId` makes a retried start idempotent through
 * a unique index: the retry gets the first attempt's conversation and nothing is published again.
 */
export class ConversationService {
  private readonly outbox: OutboxMarker;

  constructor(
    private readonly conversations: ConversationModel,
    private readonly leads: LeadService,
    private readonly messages: MessageService,
    private readonly reads: ReadPositions,
    private readonly bus: EventBus,
    private readonly options: ConversationServiceOptions = {},
  ) {
    this.outbox = options.outbox ?? NO_OUTBOX;
  }

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
    const decided = (await this.options.startFields?.(actor.projectId, now)) ?? {};
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
      ...decided,
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

  /**
   * A visitor's message. Into a resolved conversation of a project that starts a new conversation
   * then (`resolvedConversationReply: new`), it starts one instead, and every later message to the
   * resolved one goes there too: the new conversation's `requestId` is derived from the resolved
   * one's id, so there is exactly one, however many messages and retries race to make it. If that
   * one is resolved as well, the next one continues it. Call without awaiting anything first: the
   * send takes its place in line synchronously.
   */
  async reply(actor: VisitorActor, input: SendInput, options: ReplyOptions = {}): Promise<ReplyResult> {
    try {
      const { message } = await this.messages.send(actor, input, {
        ...(options.beforeWrite ? { beforeWrite: options.beforeWrite } : {}),
      });
      return { message };
    } catch (error) {
      if (!(error instanceof ConversationResolvedError)) throw error;
      return this.continueAfter(actor, error.conversation, input, options);
    }
  }

  private async continueAfter(
    actor: VisitorActor,
    resolved: ConversationDoc,
    input: SendInput,
    options: ReplyOptions,
  ): Promise<ReplyResult> {
    let target = resolved;
    for (let i = 0; i < MAX_CONTINUATIONS; i++) {
      try {
        const started = await this.start(
          actor,
          { requestId: `continue:${target._id}`, text: input.text, clientMessageId: input.clientMessageId },
          options.beforeContinue ? { beforeCreate: options.beforeContinue } : {},
        );
        if (!started.message) throw new Error('a continuation started without its message');
        return { message: started.message, conversation: started.conversation };
      } catch (error) {
        if (!(error instanceof ConversationResolvedError)) throw error;
        target = error.conversation;
      }
    }
    throw new AppError('UNAVAILABLE', 'The conversation keeps being resolved; try again');
  }

  /** The visitor's own conversations, most recently active first, with the visitor's unread counts. */
  async listForVisitor(actor: VisitorActor): Promise<Conversation[]> {
    const docs = await this.conversations
      .find({ projectId: actor.projectId, userId: actor.userId })
      .sort({ updatedAt: -1 })
      .limit(VISITOR_LIST_LIMIT)
      .lean<ConversationDoc[]>()
      .exec();
    return this.reads.forReader(docs, { role: 'visitor' });
  }

  async get(actor: Actor, conversationId: string): Promise<Conversation> {
    return toConversation(await loadAccessibleConversation(this.conversations, actor, conversationId));
  }

  /**
   * The agent becomes assignee and participant. A resolved conversation is reopened (with its
   * note, like `conversation:reopen`); other statuses stay as they are. The write is conditional on
   * the status read, so a change made meanwhile is seen and the join made again on top of it.
   */
  async join(actor: AgentActor, conversationId: string): Promise<Conversation> {
    for (let attempt = 0; attempt < MAX_JOIN_ATTEMPTS; attempt++) {
      const before = await loadAccessibleConversation(this.conversations, actor, conversationId);
      const status = statusOf(before.status);
      const reopens = status === 'resolved';
      const assigns = before.assigneeId !== actor.agentId;
      // Stored by the previous version (`assigned`): written out as this version's status.
      const normalizes = before.status !== status;
      if (!assigns && !reopens && !normalizes && before.participants.includes(actor.agentId))
        return toConversation(before);
      const now = new Date();
      const note = reopens ? newNote(`${actor.name} reopened the conversation`, now) : undefined;
      const change: ConversationChange = {
        by: changeActorOf(actor),
        ...(reopens ? { previousStatus: status } : {}),
        ...(assigns ? { reason: 'manual' as const } : {}),
      };
      // The change goes with the mark: the sweeper rebuilds the event from the document and the mark.
      const mark = await this.outbox.mark(actor.projectId, 'conversation.updated', { change });
      const push = { ...(note ? { pendingNotes: note } : {}), ...(mark ? { outbox: mark } : {}) };
      const after = await this.conversations
        .findOneAndUpdate(
          { _id: conversationId, projectId: actor.projectId, status: before.status },
          {
            $set: { assigneeId: actor.agentId, status: reopens ? 'open' : status, updatedAt: now },
            $addToSet: { participants: actor.agentId },
            ...(note ? { $unset: { resolvedAt: '', closedAt: '' } } : {}),
            ...(Object.keys(push).length > 0 ? { $push: push } : {}),
          },
          { returnDocument: 'after' },
        )
        .lean<ConversationDoc>()
        .exec();
      if (!after) continue;
      const conversation = toConversation(after);
      await this.bus.publish(
        'conversation.updated',
        { conversation, change, ...(note ? { note } : {}) },
        mark ? { mark } : {},
      );
      return conversation;
    }
    throw new AppError('UNAVAILABLE', 'The conversation keeps changing; try again');
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

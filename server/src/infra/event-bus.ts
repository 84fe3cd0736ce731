import { EventEmitter } from 'node:events';
import type {
  Conversation,
  ConversationChange,
  Lead,
  LeadActivity,
  LeadBulkCompletedEvent,
  LeadField,
  LeadNote,
  LeadImport,
  Message,
  PresenceStatus,
  Sender,
  Webhook,
  WebhookDisabledReason,
} from '@parley/protocol';
import type { PendingNote } from '../conversations/conversation-model';
import type { PublishMeta } from './outbox-mark';

/**
 * Domain events: what happened, in the domain's words. Services publish them and know nothing of
 * who listens; the broadcaster (realtime/) turns them into pushes to the right sockets, and the
 * webhook outbox (webhooks/outbox.ts) records those that leave the system.
 */
export interface DomainEvents {
  /** `importId`: written by that import, whose agents hear one batched push instead (see imports/). */
  'lead.created': { lead: Lead; importId?: string };
  'lead.updated': { lead: Lead; changes: LeadField[]; importId?: string };
  /** A contact import moved on by a batch, or finished (`import.status`). */
  'lead.import.progress': { import: LeadImport };
  'lead.import.completed': { import: LeadImport };
  'lead.merged': { lead: Lead; mergedLeadIds: string[] };
  'lead.deleted': { projectId: string; leadId: string; userIds: string[] };
  /** Agents' notes on a lead (issue 15): to the project's agents and webhooks, never to visitors. */
  'lead.note.created': { note: LeadNote };
  'lead.note.updated': { note: LeadNote };
  'lead.note.deleted': { projectId: string; leadId: string; noteId: string };
  /**
   * A visitor viewed a page or did a custom event (issue 15): to the project's agents only. Not a
   * webhook event: it is high-volume and worth little late (see docs/PROTOCOL.md, "Activity").
   */
  'lead.activity': { activity: LeadActivity };
  /** One summary of a bulk action (no per-contact webhook events: a bulk may touch thousands). */
  'lead.bulk.completed': LeadBulkCompletedEvent & { projectId: string };
  /**
   * A chunk of the contacts a bulk tag or property change changed, as they are now: agents hear a
   * `lead.updated` for each (their open views stay current); never a webhook event.
   */
  'lead.bulk.updated': { projectId: string; bulkId: string; leads: Lead[]; changes: LeadField[] };
  'conversation.created': { conversation: Conversation; lead: Lead };
  'conversation.updated': {
    conversation: Conversation;
    change: ConversationChange;
    /** The status note this change stored as pending, for StatusNotes to write (never pushed). */
    note?: PendingNote;
  };
  /** A reader's position moved forward. */
  'message.read': {
    projectId: string;
    /** The conversation's visitor: their sockets hear an agent's read, and their own. */
    userId: string;
    conversationId: string;
    reader: Sender;
    seq: number;
    readAt: string;
    /** The reader's unread count after the read (up to `lastSeq`), for the reader's own sockets only. */
    unreadCount: number;
    lastSeq: number;
  };
  'message.created': { message: Message; conversation: Conversation };
  /** An agent came online, went away or went offline: announced once, by the node that saw it first. */
  'agent.presence': { projectId: string; agentId: string; status: PresenceStatus };
  /** A team was created, changed or removed: routing looks at its waiting conversations again. */
  'team.changed': { projectId: string; teamId: string; removed: boolean };
  /** Removed, or its password or role changed: every open socket of the agent is closed, on every node. */
  'agent.signedOut': { projectId: string; agentId: string };
  /**
   * A lead was blocked (issue 15): every open socket of these visitors is closed, on every node.
   * Never pushed or sent to webhooks (agents hear `lead.updated` with `changes: ['blocked']`).
   */
  'visitor.blocked': { projectId: string; userIds: string[] };
  /** A webhook was turned off by its deliveries' outcomes (410 Gone, or failing for days). */
  'webhook.disabled': { webhook: Webhook; reason: WebhookDisabledReason };
  typing: {
    projectId: string;
    /** The visitor whose conversation it is: their own sockets hear the agent typing. */
    userId: string;
    conversationId: string;
    sender: Sender;
    typing: boolean;
    /** Transport-neutral id of the connection that typed, so it does not hear its own echo. */
    originId?: string;
  };
}

export type DomainEventName = keyof DomainEvents;

export interface EventBusHooks {
  onPublish?: (name: DomainEventName) => void;
  /** A listener failed. It must not fail the service that published: the write already happened. */
  onListenerError?: (error: unknown, name: DomainEventName) => void;
}

/**
 * A listener whose work the publisher waits for: `publish` settles only once it has. The webhook
 * outbox is one: an event must be in the outbox before the change that caused it is acknowledged.
 */
export type DurableListener<E extends DomainEventName> = (payload: DomainEvents[E], meta: PublishMeta) => Promise<void>;

export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly durable = new Map<DomainEventName, DurableListener<never>[]>();

  constructor(private readonly hooks: EventBusHooks = {}) {
    // Every socket namespace and metrics subscribe; the default of 10 would warn for no reason.
    this.emitter.setMaxListeners(100);
  }

  /**
   * Tells every listener. Plain listeners run now (pushes leave at once); the promise settles
   * when the durable listeners are done, and rejects when one of them failed: a service awaits it
   * before it acknowledges, so that an event it could not record is never acknowledged as done.
   * `meta` says how the change made the event crash-safe (its outbox mark, or its held record).
   */
  publish<E extends DomainEventName>(name: E, payload: DomainEvents[E], meta: PublishMeta = {}): Promise<void> {
    this.hooks.onPublish?.(name);
    this.emitter.emit(name, payload);
    const durable = this.durable.get(name) as DurableListener<E>[] | undefined;
    if (!durable || durable.length === 0) return Promise.resolve();
    return Promise.all(durable.map((listener) => listener(payload, meta))).then(() => undefined);
  }

  subscribe<E extends DomainEventName>(name: E, listener: (payload: DomainEvents[E]) => void): () => void {
    const guarded = (payload: DomainEvents[E]): void => {
      try {
        listener(payload);
      } catch (error) {
        this.hooks.onListenerError?.(error, name);
      }
    };
    this.emitter.on(name, guarded);
    return () => this.emitter.off(name, guarded);
  }

  /** A listener `publish` waits for (see DurableListener). */
  subscribeDurable<E extends DomainEventName>(name: E, listener: DurableListener<E>): () => void {
    const list = this.durable.get(name) ?? [];
    list.push(listener as DurableListener<never>);
    this.durable.set(name, list);
    return () => {
      const current = this.durable.get(name) ?? [];
      this.durable.set(
        name,
        current.filter((l) => l !== (listener as DurableListener<never>)),
      );
    };
  }
}

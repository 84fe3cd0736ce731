import { createHash, randomBytes } from 'node:crypto';
import { WEBHOOK_EVENT_TYPES, type WebhookEventFilter, type WebhookEventType } from '@parley/protocol';
import type { DomainEvents } from '../infra/event-bus';

/** The collections whose documents carry outbox marks, by the first word of an event's name. */
export type SubjectKind = 'leads' | 'conversations' | 'messages';

/** Where a domain event goes as a webhook event, worked out from its payload alone. */
export interface EventRouting {
  projectId: string;
  /** The lead whose events leave in order (per webhook); '' when none. */
  lane: string;
  subject: { kind: SubjectKind; id: string };
  /** `data` of the delivery, without `projectId` (added by the outbox). */
  data: Record<string, unknown>;
}

/** The shapes domain events share: every one carries its project, lead and subject in these fields. */
interface Shape {
  projectId?: string;
  leadId?: string;
  lead?: { id: string; projectId: string };
  conversation?: { id: string; projectId: string; leadId: string };
  message?: { id: string; projectId: string };
  /** A note on a lead (issue 15): the note is the subject, its lead the lane. */
  note?: { id: string; projectId: string; leadId: string };
  noteId?: string;
}

/**
 * `data` is what agents' sockets get for the event; where the domain event carries more (the
 * conversation of a message, the user ids of an erased lead), only what the push carries is kept.
 * Any other event is sent as published.
 */
const AGENT_VIEW: Partial<Record<WebhookEventType, (payload: never) => Record<string, unknown>>> = {
  'message.created': ({ message }: DomainEvents['message.created']) => ({ message }),
  // The status note is the server's own bookkeeping (written as a system message of its own).
  'conversation.updated': ({ conversation, change }: DomainEvents['conversation.updated']) => ({
    conversation,
    change,
  }),
  'lead.deleted': ({ leadId }: DomainEvents['lead.deleted']) => ({ leadId }),
  'lead.note.deleted': ({ leadId, noteId }: DomainEvents['lead.note.deleted']) => ({ leadId, noteId }),
  // `importId` is for the broadcaster only.
  'lead.created': ({ lead }: DomainEvents['lead.created']) => ({ lead }),
  'lead.updated': ({ lead, changes }: DomainEvents['lead.updated']) => ({ lead, changes }),
};

const KINDS: Record<string, SubjectKind> = { lead: 'leads', conversation: 'conversations', message: 'messages' };

export function routeEvent(type: WebhookEventType, payload: object): EventRouting {
  const p = payload as Shape;
  const projectId =
    p.projectId ?? p.message?.projectId ?? p.conversation?.projectId ?? p.lead?.projectId ?? p.note?.projectId;
  if (!projectId) throw new Error(`webhook event ${type} carries no project`);
  const lane = p.lead?.id ?? p.conversation?.leadId ?? p.leadId ?? p.note?.leadId ?? '';
  // A bulk summary names no single contact: its subject is the bulk (it is never marked on a document).
  if (type === 'lead.bulk.completed') {
    const { projectId: _project, ...data } = payload as { projectId: string; bulkId: string };
    return { projectId, lane: '', subject: { kind: 'leads', id: data.bulkId }, data };
  }
  // Each note is its own subject: its creation and deletion happen once per note, not per lead.
  const noteId = p.note?.id ?? p.noteId;
  const kind = KINDS[type.split('.')[0] ?? ''];
  const subjectId =
    kind === 'messages'
      ? p.message?.id
      : kind === 'conversations'
        ? p.conversation?.id
        : (noteId ?? p.lead?.id ?? p.leadId);
  if (!kind || !subjectId) throw new Error(`webhook event ${type} names no lead, conversation or message`);
  const view = AGENT_VIEW[type] as ((payload: object) => Record<string, unknown>) | undefined;
  return { projectId, lane, subject: { kind, id: subjectId }, data: view ? view(payload) : { ...payload } };
}

/** Creations and deletions happen once per document: their id needs nothing but the document's. */
export function happensOnce(type: string): boolean {
  return type.endsWith('.created') || type.endsWith('.deleted');
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 24);
}

/**
 * The `webhook-id` of an event: the same whoever records it (the publisher, or the sweeper after a
 * crash), so that the outbox holds it once. An update without a mark (no webhook wanted it when it
 * was written) gets a random one.
 */
export function eventIdOf(type: string, subjectId: string, markId?: string): string {
  if (happensOnce(type)) return `msg_${digest(`${type}:${subjectId}`)}`;
  if (markId) return `msg_${digest(`${markId}:${subjectId}`)}`;
  return `msg_${randomBytes(18).toString('base64url')}`;
}

export function deliveryIdOf(eventId: string, webhookId: string): string {
  return `dlv_${digest(`${eventId}:${webhookId}`)}`;
}

export function isWebhookEventType(name: string): name is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(name);
}

export function wants(events: readonly WebhookEventFilter[], type: string): boolean {
  return events.includes('*') || (events as readonly string[]).includes(type);
}

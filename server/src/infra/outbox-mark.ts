import type { WebhookEventType } from '@parley/protocol';
import { randomBytes } from 'node:crypto';
import { Schema } from 'mongoose';

/**
 * How an event survives a crash between the change that causes it and its outbox record (there
 * are no transactions: the embedded server and a standalone MongoDB refuse them).
 *
 * The write that makes the change also adds a mark to the changed document: the same single-
 * document write, so the mark exists exactly when the change does: the event is durable once the
 * change is, and the change is acknowledged without waiting for more. The event is then recorded
 * in the outbox and the mark taken off. A crash between the two
 * leaves the mark behind; the outbox sweeper (webhooks/outbox-sweeper.ts) finds marks older than
 * a grace period and records the event from the document, with the mark's id, so that the outbox
 * holds it once whichever of the two got there (the record's id is derived from it).
 *
 * A mark is written only when a webhook of the project wants the event (see Outbox.mark).
 */
export interface OutboxMark {
  /** Random; names the change (together with the document's id) so that recording it twice is harmless. */
  id: string;
  /** The event's name, e.g. `lead.updated`. */
  type: string;
  /**
   * When the change happened, on the cluster's clock (see Clock): the event's timestamp, its place
   * in the lead's order, and, to the sweeper of any node, how long the mark has been waiting.
   */
  at: Date;
  /** What the event carries beyond the document itself (`changes` of `lead.updated`, …). */
  extra?: Record<string, unknown>;
}

export function newMark(type: string, extra?: Record<string, unknown>, at = new Date()): OutboxMark {
  return { id: randomBytes(9).toString('base64url'), type, at, ...(extra ? { extra } : {}) };
}

/** The field that holds a document's marks. */
export const OUTBOX_FIELD = 'outbox';

/** The mongoose path of `outbox` on a model whose documents can carry marks. */
export const outboxMarksPath = { type: [Schema.Types.Mixed], default: undefined };

/**
 * An outbox record written *before* a change whose document will not exist after it (an
 * erasure): held (not sent) until the change is done, then released. The sweeper releases held
 * records whose document is gone, and drops them when it never went.
 */
export interface HeldEvent {
  eventId: string;
}

export interface PublishMeta {
  mark?: OutboxMark;
  held?: HeldEvent;
}

/**
 * What services need of the outbox: a mark for a change they are about to write (undefined when no
 * webhook of the project wants the event, so that nothing is marked and nothing is cleared), and
 * held records for changes that delete their document. The webhook outbox implements it.
 */
export interface OutboxMarker {
  mark(projectId: string, type: MarkedEventType, extra?: Record<string, unknown>): Promise<OutboxMark | undefined>;
  /** Which of these projects want `type` (for a batch of changes). */
  wanting(projectIds: Iterable<string>, type: MarkedEventType): Promise<Set<string>>;
  /** A mark now, for a change of a project `wanting` named. */
  stamp(type: MarkedEventType, extra?: Record<string, unknown>): OutboxMark;
  hold(type: MarkedEventType, payload: object): Promise<HeldEvent | undefined>;
}

/** The events a change can mark: the webhook event types. */
export type MarkedEventType = WebhookEventType;

/** No webhooks (unit tests of services): nothing is ever marked or held. */
export const NO_OUTBOX: OutboxMarker = {
  mark: () => Promise.resolve(undefined),
  wanting: () => Promise.resolve(new Set()),
  stamp: (type, extra) => newMark(type, extra),
  hold: () => Promise.resolve(undefined),
};

/** The marks of a document that name `type`. */
export function marksOf(doc: { [OUTBOX_FIELD]?: OutboxMark[] }, type: string): OutboxMark | undefined {
  return doc[OUTBOX_FIELD]?.find((mark) => mark.type === type);
}

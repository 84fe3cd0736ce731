import { z } from 'zod';
import { LIMITS } from '../limits';
import { leadNoteSchema } from './notes';
import { conversationSchema } from './responses';
import { leadFieldSchema } from './socket-payloads';
import { attributeKeySchema, pageCursorSchema, queryInt, textSchema } from './common';

/**
 * Visitor activity (issue 15). Everything a visitor reports is bounded here, before the server
 * stores it: a URL, title and referrer by length, an event's name by length and characters, its
 * properties by count, key and value size (at most 20 × 500 characters of values).
 */
const pageUrlSchema = z
  .string()
  .max(LIMITS.activityUrlMax)
  // eslint-disable-next-line no-control-regex -- control characters are what it refuses
  .regex(/^https?:\/\/[^\s\u0000-\u001f\u007f]+$/, 'must be an http(s) URL')
  .meta({ examples: ['https://example.com/pricing', 'http://localhost:8080/checkout?step=2#card'] });

export const activityPropsSchema = z
  .record(attributeKeySchema, z.union([textSchema(LIMITS.activityPropValueMax), z.number(), z.boolean(), z.null()]))
  .refine((props) => Object.keys(props).length <= LIMITS.activityPropsMax, {
    message: `must have at most ${LIMITS.activityPropsMax} keys`,
  })
  .meta({ examples: [{}, { plan: 'pro', seats: 3 }, { coupon: null, trial: true }] });

/** Visitor command `page:view`: the page the visitor is on now. */
export const pageViewSchema = z.strictObject({
  url: pageUrlSchema,
  title: textSchema(LIMITS.activityTitleMax).optional(),
  // Empty when the page was opened directly (document.referrer is '').
  referrer: z.union([z.literal(''), pageUrlSchema]).optional(),
});

/** Visitor command `event:track`: a custom event, named by the website (`signup`, `cart.add`). */
export const eventTrackSchema = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(LIMITS.activityNameMax)
    .regex(/^[A-Za-z0-9_.:\- ]+$/, 'must be letters, digits, spaces and _ . : -'),
  props: activityPropsSchema.optional(),
  /** The page it happened on (the browser SDK fills it in). */
  url: pageUrlSchema.optional(),
});

export const leadTimelineQuerySchema = z.strictObject({
  limit: queryInt(1, LIMITS.pageLimitMax).optional(),
  cursor: pageCursorSchema.optional(),
});

// ---- responses and pushes ----

const timeSchema = z.iso.datetime();

export const leadActivitySchema = z
  .strictObject({
    id: z.string(),
    projectId: z.string(),
    leadId: z.string().optional(),
    userId: z.string(),
    kind: z.enum(['page_view', 'event']),
    name: z.string().optional(),
    url: z.string().optional(),
    title: z.string().optional(),
    referrer: z.string().optional(),
    props: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
    createdAt: timeSchema,
  })
  .meta({ id: 'LeadActivity', description: "A page view or custom event of a contact's visitor." });

export const activityRecordResultSchema = z
  .strictObject({ activityId: z.string(), createdAt: timeSchema })
  .meta({ id: 'ActivityRecordResult' });

export const leadActivityEventSchema = z
  .strictObject({ activity: leadActivitySchema })
  .meta({ id: 'LeadActivityEvent' });

export const liveVisitorSchema = z
  .strictObject({
    userId: z.string(),
    leadId: z.string().optional(),
    url: z.string().optional(),
    title: z.string().optional(),
    since: timeSchema,
    lastActiveAt: timeSchema,
    tabs: z.number().int(),
  })
  .meta({ id: 'LiveVisitor' });

export const liveVisitorsResponseSchema = z
  .strictObject({ items: z.array(liveVisitorSchema), total: z.number().int() })
  .meta({ id: 'LiveVisitorsResponse' });

export const leadHistoryEntrySchema = z
  .strictObject({
    id: z.string(),
    leadId: z.string(),
    kind: z.enum(['edited', 'merged']),
    changes: z.array(leadFieldSchema).optional(),
    mergedLeadIds: z.array(z.string()).optional(),
    by: z.strictObject({
      type: z.enum(['agent', 'visitor', 'customer', 'import', 'system']),
      id: z.string().optional(),
    }),
    createdAt: timeSchema,
  })
  .meta({ id: 'LeadHistoryEntry' });

const timelineBase = { id: z.string(), at: timeSchema };
export const leadTimelineItemSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('conversation'), ...timelineBase, conversation: conversationSchema }),
    z.strictObject({ type: z.literal('note'), ...timelineBase, note: leadNoteSchema }),
    z.strictObject({ type: z.literal('activity'), ...timelineBase, activity: leadActivitySchema }),
    z.strictObject({ type: z.literal('history'), ...timelineBase, history: leadHistoryEntrySchema }),
  ])
  .meta({ id: 'LeadTimelineItem' });

export const leadTimelinePageSchema = z
  .strictObject({ items: z.array(leadTimelineItemSchema), nextCursor: z.string().nullable() })
  .meta({ id: 'LeadTimelinePage' });

export type PageViewInput = z.input<typeof pageViewSchema>;
export type EventTrackInput = z.input<typeof eventTrackSchema>;
export type LeadTimelineQuery = z.output<typeof leadTimelineQuerySchema>;

import { z } from 'zod';
import { WEEKDAYS, WORKFLOW_LIMITS, type Weekday } from '../routing';
import { idSchema, nameSchema, queryInt, textSchema } from './common';

// ---- socket commands (/agent) ----

/** `offline` is not a choice: it is what the server concludes once every socket is gone. */
export const agentStatusSchema = z.strictObject({ status: z.enum(['online', 'away']) });

/** To an agent, to a team (its queue), or to an agent of that team. */
export const conversationTransferSchema = z
  .strictObject({
    conversationId: idSchema,
    agentId: idSchema.optional(),
    teamId: idSchema.optional(),
  })
  .refine((v) => v.agentId !== undefined || v.teamId !== undefined, {
    message: 'must name an agentId, a teamId or both',
    path: ['agentId'],
  });

// ---- teams ----

const memberIdsSchema = z
  .array(idSchema)
  .max(WORKFLOW_LIMITS.teamMembersMax)
  .refine((ids) => new Set(ids).size === ids.length, 'must not repeat an agent');

export const teamCreateSchema = z.strictObject({
  name: nameSchema,
  memberIds: memberIdsSchema.optional(),
});

export const teamUpdateSchema = z
  .strictObject({
    name: nameSchema.optional(),
    memberIds: memberIdsSchema.optional(),
  })
  .refine((v) => v.name !== undefined || v.memberIds !== undefined, 'must set at least one field');

// ---- routing ----

const capacitySchema = z.number().int().min(0).max(WORKFLOW_LIMITS.capacityMax);

export const routingSettingsUpdateSchema = z
  .strictObject({
    mode: z.enum(['manual', 'auto']).optional(),
    defaultCapacity: capacitySchema.optional(),
    requeueOffline: z.boolean().optional(),
  })
  .refine((v) => Object.values(v).some((x) => x !== undefined), 'must set at least one field');

/** An agent's own capacity; `null` goes back to the project's default. */
export const agentRoutingUpdateSchema = z.strictObject({ capacity: capacitySchema.nullable() });

export const queueQuerySchema = z.strictObject({
  teamId: idSchema.optional(),
  page: queryInt(1, 1_000_000).optional(),
  limit: queryInt(1, WORKFLOW_LIMITS.queuePageMax).optional(),
});

// ---- business hours ----

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** A calendar day that exists (`2025-02-30` does not). */
function isCalendarDate(value: string): boolean {
  const [y, m, d] = value.split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

export const openingIntervalSchema = z
  .strictObject({
    from: z.string().regex(TIME, 'must be a time HH:MM (00:00 to 23:59)'),
    to: z.string().regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, 'must be a time HH:MM (00:01 to 24:00)'),
  })
  .refine((v) => v.from < v.to, { message: 'must end after it starts', path: ['to'] });

const daySchema = z.array(openingIntervalSchema).max(WORKFLOW_LIMITS.intervalsPerDayMax);

export const weeklyScheduleSchema = z.strictObject(
  Object.fromEntries(WEEKDAYS.map((day) => [day, daySchema.optional()])) as Record<
    Weekday,
    z.ZodOptional<typeof daySchema>
  >,
);

/** Replaces the whole setting: a day left out is closed, a field left out takes its default. */
export const businessHoursSchema = z.strictObject({
  enabled: z.boolean(),
  timeZone: z
    .string()
    .min(1)
    .max(WORKFLOW_LIMITS.timeZoneMax)
    .refine(isTimeZone, 'must be an IANA time zone such as Europe/Paris')
    .meta({ examples: ['Europe/Paris', 'America/New_York', 'Asia/Kolkata', 'UTC'] }),
  weekly: weeklyScheduleSchema.optional(),
  closedDates: z
    .array(
      z
        .string()
        .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
        .refine(isCalendarDate, 'must be a date that exists'),
    )
    .max(WORKFLOW_LIMITS.closedDatesMax)
    .optional(),
  awayMessage: textSchema(WORKFLOW_LIMITS.awayMessageMax)
    .refine((s) => s.trim().length > 0, 'must not be empty')
    .optional(),
  askForEmailWhenAway: z.boolean().optional(),
});

export type AgentStatusInput = z.input<typeof agentStatusSchema>;
export type ConversationTransferInput = z.input<typeof conversationTransferSchema>;
export type TeamCreateInput = z.input<typeof teamCreateSchema>;
export type TeamUpdateInput = z.input<typeof teamUpdateSchema>;
export type RoutingSettingsUpdateInput = z.input<typeof routingSettingsUpdateSchema>;
export type AgentRoutingUpdateInput = z.input<typeof agentRoutingUpdateSchema>;
export type QueueQuery = z.output<typeof queueQuerySchema>;
export type BusinessHoursInput = z.input<typeof businessHoursSchema>;

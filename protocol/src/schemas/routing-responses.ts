/**
 * Schemas of what the server sends about the conversation workflow's routing half (presence,
 * teams, routing, business hours, availability). Like `responses.ts`, they mirror the types of
 * `workflow.ts` and `rest.ts` exactly (checked by `test/schema-types.test.ts`) and are strict.
 */
import { z } from 'zod';
import { WEEKDAYS, type Weekday } from '../routing';

const timeSchema = z.iso.datetime();

export const presenceStatusSchema = z.enum(['online', 'away', 'offline']).meta({ id: 'PresenceStatus' });

export const agentPresenceSchema = z
  .strictObject({ agentId: z.string(), status: presenceStatusSchema })
  .meta({ id: 'AgentPresence' });

export const teamSchema = z
  .strictObject({
    id: z.string(),
    projectId: z.string(),
    name: z.string(),
    memberIds: z.array(z.string()),
    createdAt: timeSchema,
    updatedAt: timeSchema,
  })
  .meta({ id: 'Team' });

export const routingSettingsSchema = z
  .strictObject({
    mode: z.enum(['manual', 'auto']),
    defaultCapacity: z.number().int(),
    requeueOffline: z.boolean(),
  })
  .meta({ id: 'RoutingSettings' });

export const agentRoutingSchema = z
  .strictObject({
    agentId: z.string(),
    capacity: z.number().int().nullable(),
    effectiveCapacity: z.number().int(),
    activeConversations: z.number().int(),
    status: presenceStatusSchema,
  })
  .meta({ id: 'AgentRouting' });

const openingIntervalOut = z.strictObject({ from: z.string(), to: z.string() });

export const businessHoursOutSchema = z
  .strictObject({
    enabled: z.boolean(),
    timeZone: z.string(),
    weekly: z.strictObject(
      Object.fromEntries(WEEKDAYS.map((day) => [day, z.array(openingIntervalOut)])) as Record<
        Weekday,
        z.ZodArray<typeof openingIntervalOut>
      >,
    ),
    closedDates: z.array(z.string()),
    awayMessage: z.string().optional(),
    askForEmailWhenAway: z.boolean(),
  })
  .meta({ id: 'BusinessHours' });

export const widgetAvailabilitySchema = z
  .strictObject({
    available: z.boolean(),
    withinHours: z.boolean(),
    agentsOnline: z.boolean(),
    awayMessage: z.string().optional(),
    askForEmail: z.boolean(),
    nextOpenAt: timeSchema.optional(),
  })
  .meta({ id: 'WidgetAvailability', description: 'Whether someone can answer now; never who.' });

// ---- REST response bodies ----

export const teamResponseSchema = z.strictObject({ team: teamSchema }).meta({ id: 'TeamResponse' });
export const teamListResponseSchema = z.strictObject({ items: z.array(teamSchema) }).meta({ id: 'TeamListResponse' });
export const routingSettingsResponseSchema = z
  .strictObject({ routing: routingSettingsSchema })
  .meta({ id: 'RoutingSettingsResponse' });
export const agentRoutingResponseSchema = z
  .strictObject({ agent: agentRoutingSchema })
  .meta({ id: 'AgentRoutingResponse' });
export const agentRoutingListResponseSchema = z
  .strictObject({ items: z.array(agentRoutingSchema) })
  .meta({ id: 'AgentRoutingListResponse' });
export const presenceListResponseSchema = z
  .strictObject({ items: z.array(agentPresenceSchema) })
  .meta({ id: 'PresenceListResponse' });
export const businessHoursResponseSchema = z
  .strictObject({ businessHours: businessHoursOutSchema })
  .meta({ id: 'BusinessHoursResponse' });

// ---- Socket.IO ----

export const agentPresenceEventSchema = agentPresenceSchema;
export const agentStatusResultSchema = agentPresenceSchema;

import {
  agentRoutingUpdateSchema,
  agentStatusSchema,
  businessHoursSchema,
  conversationTransferSchema,
  routingSettingsUpdateSchema,
  teamCreateSchema,
  teamUpdateSchema,
} from '../src/schemas';
import { WORKFLOW_LIMITS } from '../src';

describe('routing input schemas', () => {
  it('lets agents choose online or away, never offline', () => {
    expect(agentStatusSchema.safeParse({ status: 'away' }).success).toBe(true);
    expect(agentStatusSchema.safeParse({ status: 'online' }).success).toBe(true);
    expect(agentStatusSchema.safeParse({ status: 'offline' }).success).toBe(false);
    expect(agentStatusSchema.safeParse({ status: 'busy' }).success).toBe(false);
  });

  it('transfers to an agent, a team or both, never to nobody', () => {
    expect(conversationTransferSchema.safeParse({ conversationId: 'c', agentId: 'a' }).success).toBe(true);
    expect(conversationTransferSchema.safeParse({ conversationId: 'c', teamId: 't' }).success).toBe(true);
    expect(conversationTransferSchema.safeParse({ conversationId: 'c', agentId: 'a', teamId: 't' }).success).toBe(true);
    expect(conversationTransferSchema.safeParse({ conversationId: 'c' }).success).toBe(false);
    expect(conversationTransferSchema.safeParse({ conversationId: 'c', agentId: { $ne: 'x' } }).success).toBe(false);
  });

  it('bounds capacities: whole numbers from 0, null for the default', () => {
    expect(agentRoutingUpdateSchema.safeParse({ capacity: 0 }).success).toBe(true);
    expect(agentRoutingUpdateSchema.safeParse({ capacity: null }).success).toBe(true);
    expect(agentRoutingUpdateSchema.safeParse({ capacity: -1 }).success).toBe(false);
    expect(agentRoutingUpdateSchema.safeParse({ capacity: 1.5 }).success).toBe(false);
    expect(agentRoutingUpdateSchema.safeParse({ capacity: WORKFLOW_LIMITS.capacityMax + 1 }).success).toBe(false);
    expect(agentRoutingUpdateSchema.safeParse({}).success).toBe(false);
    expect(routingSettingsUpdateSchema.safeParse({ defaultCapacity: -1 }).success).toBe(false);
    expect(routingSettingsUpdateSchema.safeParse({ mode: 'round-robin' }).success).toBe(false);
    expect(routingSettingsUpdateSchema.safeParse({}).success).toBe(false);
    expect(routingSettingsUpdateSchema.safeParse({ mode: 'auto', defaultCapacity: 2 }).success).toBe(true);
  });

  it('refuses teams without a name or with a member twice', () => {
    expect(teamCreateSchema.safeParse({ name: 'Billing', memberIds: ['a', 'b'] }).success).toBe(true);
    expect(teamCreateSchema.safeParse({ memberIds: ['a'] }).success).toBe(false);
    expect(teamCreateSchema.safeParse({ name: 'Billing', memberIds: ['a', 'a'] }).success).toBe(false);
    expect(teamUpdateSchema.safeParse({}).success).toBe(false);
  });

  it('checks business hours: a real time zone, real dates, intervals that end after they start', () => {
    const week = { monday: [{ from: '09:00', to: '17:00' }], friday: [{ from: '13:00', to: '24:00' }] };
    expect(businessHoursSchema.safeParse({ enabled: true, timeZone: 'Europe/Paris', weekly: week }).success).toBe(true);
    expect(businessHoursSchema.safeParse({ enabled: true, timeZone: 'Mars/Olympus' }).success).toBe(false);
    expect(
      businessHoursSchema.safeParse({
        enabled: true,
        timeZone: 'UTC',
        weekly: { monday: [{ from: '17:00', to: '09:00' }] },
      }).success,
    ).toBe(false);
    expect(
      businessHoursSchema.safeParse({
        enabled: true,
        timeZone: 'UTC',
        weekly: { monday: [{ from: '24:00', to: '24:00' }] },
      }).success,
    ).toBe(false);
    expect(businessHoursSchema.safeParse({ enabled: true, timeZone: 'UTC', weekly: { someday: [] } }).success).toBe(
      false,
    );
    expect(businessHoursSchema.safeParse({ enabled: true, timeZone: 'UTC', closedDates: ['2025-02-30'] }).success).toBe(
      false,
    );
    expect(businessHoursSchema.safeParse({ enabled: true, timeZone: 'UTC', closedDates: ['2024-02-29'] }).success).toBe(
      true,
    );
    expect(businessHoursSchema.safeParse({ enabled: true, timeZone: 'UTC', awayMessage: '   ' }).success).toBe(false);
  });
});

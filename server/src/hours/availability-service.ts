import type { WidgetAvailability } from '@parley/protocol';
import type { StartFields } from '../conversations/conversation-service';
import type { Logger } from '../infra/logger';
import type { PresenceService } from '../presence/presence-service';
import type { BusinessHoursService } from './business-hours-service';
import { isWithinHours, nextOpening } from './schedule';

/**
 * Whether someone can answer a visitor now: within business hours, and an agent of the project
 * online (not away). What the widget is told, and what marks a new conversation `offline`.
 */
export class AvailabilityService {
  constructor(
    private readonly hours: BusinessHoursService,
    private readonly presence: PresenceService,
    private readonly logger: Logger,
  ) {}

  async of(projectId: string, at = new Date()): Promise<WidgetAvailability> {
    const [hours, agentsOnline] = await Promise.all([this.hours.getCached(projectId), this.anyoneOnline(projectId)]);
    const withinHours = isWithinHours(hours, at);
    const available = withinHours && agentsOnline;
    const availability: WidgetAvailability = {
      available,
      withinHours,
      agentsOnline,
      askForEmail: !available && hours.askForEmailWhenAway,
    };
    if (!available && hours.awayMessage) availability.awayMessage = hours.awayMessage;
    if (!withinHours) {
      const next = nextOpening(hours, at);
      if (next) availability.nextOpenAt = next.toISOString();
    }
    return availability;
  }

  /**
   * What a new conversation starts with: its place in the queue (now), and `offline` when nobody
   * can answer. When that cannot be told, it is not marked (better unmarked than falsely away).
   */
  async startFields(projectId: string, now: Date): Promise<StartFields> {
    try {
      const { available } = await this.of(projectId, now);
      return available ? { queuedAt: now } : { queuedAt: now, offline: true };
    } catch (error) {
      // Business hours unreadable right now: the conversation still starts, in its place in the queue.
      this.logger.warn({ err: error, projectId }, 'availability unknown for a new conversation');
      return { queuedAt: now };
    }
  }

  private async anyoneOnline(projectId: string): Promise<boolean> {
    try {
      return [...(await this.presence.statuses(projectId)).values()].includes('online');
    } catch (error) {
      // Presence lives in Redis: while it is away, say someone is there rather than turn visitors off.
      this.logger.debug({ err: error }, 'presence unavailable: availability assumes an agent online');
      return true;
    }
  }
}

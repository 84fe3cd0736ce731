/**
 * Entities of the conversation workflow's routing half: agent presence, teams, automatic
 * assignment with capacity, business hours and what the widget learns about availability.
 * Types only, like `entities.ts`.
 */

/**
 * `online` while any of the agent's sockets is connected and the agent has not chosen `away`;
 * `offline` once the last socket has been gone for the grace period (`PRESENCE_GRACE`), so a
 * reload is not an absence.
 */
export type PresenceStatus = 'online' | 'away' | 'offline';

/** What an agent may choose (`agent:status`); `offline` is only ever what the server concludes. */
export type ChosenStatus = 'online' | 'away';

export interface AgentPresence {
  agentId: string;
  status: PresenceStatus;
}

/** A group of agents that conversations can be routed or transferred to. */
export interface Team {
  id: string;
  projectId: string;
  name: string;
  /** Agent ids, in the order they were given. */
  memberIds: string[];
  createdAt: string;
  updatedAt: string;
}

/**
 * `manual`: agents pick conversations up (`conversation:join`). `auto`: new and reopened
 * conversations are assigned to an online agent of their team (or of the project) with the fewest
 * active conversations, up to each agent's capacity; the rest wait in the queue, oldest first.
 */
export type RoutingMode = 'manual' | 'auto';

export interface RoutingSettings {
  mode: RoutingMode;
  /** Active conversations per agent, for agents without a capacity of their own. */
  defaultCapacity: number;
  /** With `auto`: an assignee offline past the grace period gets their open conversations re-queued. */
  requeueOffline: boolean;
}

/** One agent as routing sees it. */
export interface AgentRouting {
  agentId: string;
  /** The agent's own capacity; `null` when the project's default applies. */
  capacity: number | null;
  /** The capacity routing uses for this agent. */
  effectiveCapacity: number;
  /** Conversations assigned to the agent and not resolved (what counts against capacity). */
  activeConversations: number;
  status: PresenceStatus;
}

export type Weekday = 'monday' | 'tuesday' | 'wednesday' | 'thursday' | 'friday' | 'saturday' | 'sunday';

export const WEEKDAYS: readonly Weekday[] = [
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
  'sunday',
];

/** Open from `from` to `to`, local times `HH:MM` of the project's time zone; `to` may be `24:00`. */
export interface OpeningInterval {
  from: string;
  to: string;
}

/**
 * When the project answers chats, and what visitors are told when it does not (outside these
 * hours, or when no agent is online).
 */
export interface BusinessHours {
  /** Off: always within hours (only agents' presence decides availability). */
  enabled: boolean;
  /** An IANA time zone, e.g. `Europe/Paris`. */
  timeZone: string;
  /** Every weekday, each with its opening intervals (an empty list: closed all day). */
  weekly: Record<Weekday, OpeningInterval[]>;
  /** Whole days closed, `YYYY-MM-DD` in the project's time zone. */
  closedDates: string[];
  /** Shown to visitors when nobody can answer. */
  awayMessage?: string;
  /** When nobody can answer, the widget's pre-chat form asks for an email ("we'll reply by email"). */
  askForEmailWhenAway: boolean;
}

/** What the widget is told (never who is online). */
export interface WidgetAvailability {
  /** Within business hours and at least one agent online: someone can answer now. */
  available: boolean;
  /** Within business hours (always true when they are not enabled). */
  withinHours: boolean;
  /** At least one agent of the project is online (not away). */
  agentsOnline: boolean;
  /** When not available: the project's away message, if it has one. */
  awayMessage?: string;
  /** When not available and the project asks for it: the pre-chat form should ask for an email. */
  askForEmail: boolean;
  /** Outside hours: when they open next (looked for up to 14 days ahead). */
  nextOpenAt?: string;
}

/** Bounds of the workflow's inputs, shared by the schemas, the server and the SDK. */
export const WORKFLOW_LIMITS = {
  capacityMax: 1000,
  teamMembersMax: 500,
  intervalsPerDayMax: 10,
  closedDatesMax: 400,
  awayMessageMax: 1000,
  timeZoneMax: 64,
  queuePageMax: 100,
} as const;

import {
  AGENT_NAMESPACE,
  type Agent,
  type AgentPresence,
  type AgentRouting,
  type AgentRoutingListResponse,
  type AgentRoutingResponse,
  type BusinessHours,
  type BusinessHoursInput,
  type BusinessHoursResponse,
  type ChosenStatus,
  type PresenceListResponse,
  type PresenceStatus,
  type RoutingSettings,
  type RoutingSettingsResponse,
  type RoutingSettingsUpdateInput,
  type Team,
  type TeamCreateInput,
  type TeamListResponse,
  type TeamResponse,
  type TeamUpdateInput,
  type AgentLoginResponse,
  type AgentServerToClientEvents,
  type CannedResponse,
  type CannedResponseCreateInput,
  type CannedResponsePatchInput,
  type Conversation,
  type ConversationReadResult,
  type ConversationStatus,
  type Lead,
  type LeadCreateInput,
  type LeadDetailResponse,
  type LeadMergedResponse,
  type LeadNote,
  type LeadNotePage,
  type LeadNoteResponse,
  type LeadTimelinePage,
  type LiveVisitorsResponse,
  type LeadPatchInput,
  type Message,
  type MessagePage,
  type Page,
  type RenderedTextResponse,
  type SyncReloadReason,
} from '@parley/protocol';
import { retryDelay, untilAvailable } from './backoff';
import type { ConversationBook } from './conversation-book';
import { Emitter } from './emitter';
import { closedError, ParleyError, toParleyError } from './errors';
import { Http } from './http';
import type { ClientMessage } from './message-store';
import { createSessionBook } from './session-book';
import { SocketSession, type ConnectionStatus } from './socket-session';
import type { Clock } from './clock';
import { Timers } from './timers';
import { refreshDelay, type HeldToken } from './token';
import { TypingThrottle } from './typing-throttle';
import { UnreadTracker } from './unread-tracker';
import { baseUrlOf } from './url';
import { PresenceBook } from './presence-book';
import type { MessageEvent, UnreadEvent } from './visitor-client';

interface AgentConnectionOptions {
  url: string;
  transports?: ('websocket' | 'polling')[];
  /** The server's Socket.IO path, if not `/socket.io` under the URL's path. */
  path?: string;
  ackTimeoutMs?: number;
  requestTimeoutMs?: number;
  offlineAfterMs?: number;
  /** How many conversations' message lists are kept in memory (those the console uses). */
  maxConversations?: number;
  /** Where the time and the timers come from; the system clock by default (tests drive their own). */
  clock?: Clock;
}

export type AgentClientOptions =
  (AgentConnectionOptions & { token: string }) | (AgentConnectionOptions & { email: string; password: string });

type Payload<K extends keyof AgentServerToClientEvents> = Parameters<AgentServerToClientEvents[K]>[0];

export interface AgentClientEvents {
  'lead.created': (event: Payload<'lead.created'>) => void;
  'lead.updated': (event: Payload<'lead.updated'>) => void;
  'lead.merged': (event: Payload<'lead.merged'>) => void;
  'lead.deleted': (event: Payload<'lead.deleted'>) => void;
  /** Notes on leads (agents only). */
  'lead.note.created': (event: Payload<'lead.note.created'>) => void;
  'lead.note.updated': (event: Payload<'lead.note.updated'>) => void;
  'lead.note.deleted': (event: Payload<'lead.note.deleted'>) => void;
  /** A visitor viewed a page or did a custom event (its contact's current page, live). */
  'lead.activity': (event: Payload<'lead.activity'>) => void;
  'conversation.created': (event: Payload<'conversation.created'>) => void;
  'conversation.updated': (event: Payload<'conversation.updated'>) => void;
  'message.created': (event: Payload<'message.created'>) => void;
  /** Someone read up to `seq`: the visitor (a read receipt), or this agent elsewhere (with its count). */
  'message.read': (event: Payload<'message.read'>) => void;
  typing: (event: Payload<'typing'>) => void;
  /** A conversation's unread count for this agent changed (the visitor's messages after its read position). */
  unread: (event: UnreadEvent) => void;
  /** An agent of the project came online, went away or went offline (the push, as the server sends it). */
  'agent.presence': (event: Payload<'agent.presence'>) => void;
  /** An agent's status in `presence` changed: from a push, or from a reload of the list. */
  presence: (event: AgentPresence) => void;
  /** A held conversation's ordered message list changed (live, acked, caught up, failed, discarded). */
  message: (event: MessageEvent) => void;
  /** Events were missed and could not be replayed: reload lead and conversation lists over REST. */
  reload: (event: { reason: SyncReloadReason }) => void;
  status: (status: ConnectionStatus) => void;
  error: (error: ParleyError) => void;
}

/** Where `conversations.transfer` sends a conversation: an agent, a team (its queue), or an agent of that team. */
export interface TransferTarget {
  agentId?: string;
  teamId?: string;
}

export interface QueueQuery {
  teamId?: string;
  page?: number;
  limit?: number;
}

export interface LeadSearch {
  email?: string;
  q?: string;
  tag?: string;
  page?: number;
  limit?: number;
}

/** @deprecated since 0.2: use LeadSearch (kept one version for code written against 0.1). */
export type ContactSearch = LeadSearch;

/** The inbox's filters (see the REST list): `assignee` is `me`, `none` or an agent id; `teamId` a team or `none`. */
export interface ConversationFilter {
  leadId?: string;
  status?: ConversationStatus;
  assignee?: string;
  teamId?: string;
  /** `true`: only those started while nobody could answer (business hours, no agent online). */
  offline?: boolean;
  sort?: 'lastActivity' | 'oldest';
  page?: number;
  limit?: number;
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const entries = Object.entries(params).filter((e): e is [string, string | number | boolean] => e[1] !== undefined);
  return entries.length === 0
    ? ''
    : `?${entries.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&')}`;
}

/**
 * The agent side of Parley for a console: live events of the project, leads (shown to people as
 * contacts) and conversations over REST, and messages with the same delivery guarantees as the visitor client.
 *
 * A busy project has many conversations; the client keeps the message lists only of those the
 * console uses (loaded with `history`, joined, or sent to), up to `maxConversations`, and only
 * those are caught up after a reconnect.
 */
export class AgentClient {
  /**
   * Resolves once logged in and connected for the first time; rejects with a ParleyError if the
   * login or token is refused. While the server cannot be reached it keeps trying.
   */
  readonly ready: Promise<void>;
  private readonly timers: Timers;
  private readonly http: Http;
  private readonly events = new Emitter<AgentClientEvents>();
  private readonly session: SocketSession<typeof AGENT_NAMESPACE>;
  private readonly book: ConversationBook;
  private readonly presenceBook: PresenceBook;
  private readonly typing = new Map<string, TypingThrottle>();
  private readonly unread: UnreadTracker;
  private held: HeldToken | undefined;
  private me: Agent | undefined;
  private closed = false;
  private reloadSignaled = false;
  private cancelRefresh: () => void = () => undefined;

  constructor(private readonly options: AgentClientOptions) {
    const url = baseUrlOf(options.url);
    this.timers = new Timers(options.clock);
    this.http = new Http(url, this.timers, options.requestTimeoutMs);
    // A token handed over from elsewhere: its age is unknown here (see refreshDelay).
    if ('token' in options) this.held = { token: options.token };
    this.session = new SocketSession({
      url,
      namespace: AGENT_NAMESPACE,
      token: () => this.held?.token ?? '',
      transports: options.transports ?? ['websocket', 'polling'],
      timers: this.timers,
      ...(options.path !== undefined ? { path: options.path } : {}),
      ...(options.ackTimeoutMs ? { ackTimeoutMs: options.ackTimeoutMs } : {}),
      ...(options.offlineAfterMs ? { offlineAfterMs: options.offlineAfterMs } : {}),
      onStatus: (status) => this.events.emit('status', status),
      onConnect: ({ first, recovered }) => {
        this.reloadSignaled = false;
        // Presence is loaded once connected (pushes from then on keep it), and again whenever
        // pushes may have been missed.
        if (first || !recovered) this.refreshPresence();
        if (!first) {
          if (!recovered) this.signalReload();
          this.book.catchUpAll();
        }
      },
      onUnauthorized: () => this.reauthenticate(),
      onFatal: (error) => {
        this.cancelRefresh();
        this.events.emit('error', error);
      },
    });
    this.unread = new UnreadTracker('visitor', (conversationId, unreadCount) =>
      this.events.emit('unread', { conversationId, unreadCount, total: this.unread.total() }),
    );
    this.book = createSessionBook({
      session: this.session,
      timers: this.timers,
      sender: () => ({ id: this.me?.id ?? '', role: 'agent', ...(this.me ? { name: this.me.name } : {}) }),
      holdOnLiveMessage: false,
      ...(options.maxConversations !== undefined ? { maxConversations: options.maxConversations } : {}),
      isCurrent: () => !this.closed,
      onMessage: (event) => {
        if (event.message.status === 'sent') this.unread.message(event.message);
        this.events.emit('message', event);
      },
      onError: (error) => this.events.emit('error', error),
    });
    this.presenceBook = new PresenceBook(
      async () => (await this.rest<PresenceListResponse>('GET', '/presence')).items,
      (presence) => this.events.emit('presence', presence),
    );
    this.listen();
    this.ready = this.start();
    this.ready.catch(() => undefined);
    queueMicrotask(() => this.session.announce());
  }

  get agent(): Agent | undefined {
    return this.me;
  }

  get status(): ConnectionStatus {
    return this.session.currentStatus;
  }

  on<K extends keyof AgentClientEvents>(event: K, listener: AgentClientEvents[K]): () => void {
    return this.events.on(event, listener);
  }

  /** Leads of the agent's project (a console shows them to people as contacts). */
  readonly leads = {
    search: async (search: LeadSearch = {}): Promise<Page<Lead>> =>
      this.rest<Page<Lead>>('GET', `/leads${query({ ...search })}`),
    get: async (leadId: string): Promise<LeadDetailResponse> =>
      this.rest('GET', `/leads/${encodeURIComponent(leadId)}`),
    create: async (input: LeadCreateInput): Promise<Lead> => this.rest('POST', '/leads', input),
    update: async (leadId: string, patch: LeadPatchInput): Promise<Lead> =>
      this.rest('PATCH', `/leads/${encodeURIComponent(leadId)}`, patch),
    merge: async (targetLeadId: string, sourceLeadIds: string[]): Promise<Lead> =>
      (
        await this.rest<LeadMergedResponse>('POST', `/leads/${encodeURIComponent(targetLeadId)}/merge`, {
          sourceLeadIds,
        })
      ).lead,
    remove: async (leadId: string): Promise<void> => this.rest('DELETE', `/leads/${encodeURIComponent(leadId)}`),
    /** Blocks the lead: its visitors are refused with `BLOCKED` until `unblock` (issue 15). */
    block: async (leadId: string): Promise<Lead> => this.rest('POST', `/leads/${encodeURIComponent(leadId)}/block`),
    unblock: async (leadId: string): Promise<Lead> => this.rest('POST', `/leads/${encodeURIComponent(leadId)}/unblock`),
    /** A lead's notes, newest first; pass the page's `nextCursor` for the next one. */
    notes: async (leadId: string, page: { cursor?: string; limit?: number } = {}): Promise<LeadNotePage> =>
      this.rest('GET', `/leads/${encodeURIComponent(leadId)}/notes${query({ ...page })}`),
    addNote: async (leadId: string, text: string): Promise<LeadNote> =>
      (await this.rest<LeadNoteResponse>('POST', `/leads/${encodeURIComponent(leadId)}/notes`, { text })).note,
    /** With `version` (the one you read), a note changed meanwhile is refused with `CONFLICT`. */
    editNote: async (leadId: string, noteId: string, text: string, version?: number): Promise<LeadNote> =>
      (
        await this.rest<LeadNoteResponse>(
          'PATCH',
          `/leads/${encodeURIComponent(leadId)}/notes/${encodeURIComponent(noteId)}`,
          version === undefined ? { text } : { text, version },
        )
      ).note,
    removeNote: async (leadId: string, noteId: string): Promise<void> =>
      this.rest('DELETE', `/leads/${encodeURIComponent(leadId)}/notes/${encodeURIComponent(noteId)}`),
    /**
     * A lead's timeline (conversations, notes, page views and events, edits, merges), newest first;
     * pass the page's `nextCursor` for the next one.
     */
    timeline: async (leadId: string, page: { cursor?: string; limit?: number } = {}): Promise<LeadTimelinePage> =>
      this.rest('GET', `/leads/${encodeURIComponent(leadId)}/timeline${query({ ...page })}`),

    /** The CSV export (same filters as search), as text. */
    exportCsv: async (search: Omit<LeadSearch, 'page' | 'limit'> = {}): Promise<string> =>
      this.authorized(() =>
        this.http.text('GET', `${this.projectPath()}/leads/export.csv${query({ ...search })}`, {
          token: this.held?.token ?? '',
        }),
      ),
  };

  /** Visitors of the project's site (issue 15). */
  readonly visitors = {
    /** Who is on the site now, on every node, with their current page (the most recently active first). */
    live: async (): Promise<LiveVisitorsResponse> => this.rest('GET', '/visitors/live'),
  };

  /** Replies agents insert by short code; `render` fills in a conversation's contact and this agent. */
  readonly cannedResponses = {
    /** Sorted by short code; `q` is a prefix of it. */
    list: async (search: { q?: string; page?: number; limit?: number } = {}): Promise<Page<CannedResponse>> =>
      this.rest('GET', `/canned-responses${query({ ...search })}`),
    get: async (id: string): Promise<CannedResponse> => this.rest('GET', `/canned-responses/${encodeURIComponent(id)}`),
    create: async (input: CannedResponseCreateInput): Promise<CannedResponse> =>
      this.rest('POST', '/canned-responses', input),
    update: async (id: string, patch: CannedResponsePatchInput): Promise<CannedResponse> =>
      this.rest('PATCH', `/canned-responses/${encodeURIComponent(id)}`, patch),
    remove: async (id: string): Promise<void> => this.rest('DELETE', `/canned-responses/${encodeURIComponent(id)}`),
    /** The text to send in `conversationId`, its `{{fields}}` filled in by the server. */
    render: async (id: string, conversationId: string): Promise<string> =>
      (
        await this.rest<RenderedTextResponse>('POST', `/canned-responses/${encodeURIComponent(id)}/render`, {
          conversationId,
        })
      ).text,
  };

  /** @deprecated since 0.2: use `leads` (the same object, kept one version for code written against 0.1). */
  get contacts(): AgentClient['leads'] {
    return this.leads;
  }

  /** Conversations of the project, and messages with delivery that survives drops. */
  readonly conversations = {
    /** A page of the inbox, each with this agent's `unreadCount` (which the client keeps live from then on). */
    list: async (filter: ConversationFilter = {}): Promise<Page<Conversation>> => {
      const page = await this.rest<Page<Conversation>>('GET', `/conversations${query({ ...filter })}`);
      for (const conversation of page.items) this.track(conversation);
      return page;
    },
    /** One conversation, with this agent's `unreadCount`. */
    get: async (conversationId: string): Promise<Conversation> => {
      const { conversation } = await this.rest<{ conversation: Conversation }>(
        'GET',
        `/conversations/${encodeURIComponent(conversationId)}`,
      );
      this.track(conversation);
      return conversation;
    },
    /**
     * To an agent of the project (assigned to them), to a team (unassigned, waiting for the team's
     * online members), or to an agent of that team; resolves with the `Conversation`.
     */
    transfer: async (conversationId: string, to: TransferTarget): Promise<Conversation> => {
      await this.ready;
      return (await this.session.call('conversation:transfer', { conversationId, ...to })).conversation;
    },
    /** Become assignee and participant. The client holds the conversation's list from then on. */
    join: async (conversationId: string): Promise<Conversation> => {
      await this.ready;
      const { conversation } = await this.session.call('conversation:join', { conversationId });
      this.book.hold(conversationId);
      this.book.requestCatchUp(conversationId);
      return conversation;
    },
    resolve: (conversationId: string): Promise<Conversation> => this.move('conversation:resolve', conversationId),
    /** Open a pending, snoozed or resolved conversation again. */
    reopen: (conversationId: string): Promise<Conversation> => this.move('conversation:reopen', conversationId),
    /** Waiting for the visitor. */
    pend: (conversationId: string): Promise<Conversation> => this.move('conversation:pend', conversationId),
    /** Set aside until `until` (in the future, at most a year ahead) or until the visitor writes. */
    snooze: async (conversationId: string, until: Date | string): Promise<Conversation> => {
      await this.ready;
      const at = typeof until === 'string' ? until : until.toISOString();
      return (await this.session.call('conversation:snooze', { conversationId, until: at })).conversation;
    },
    /** @deprecated use `resolve` (the same command; `conversation:close` is kept one version). */
    close: async (conversationId: string): Promise<Conversation> => {
      await this.ready;
      return (await this.session.call('conversation:close', { conversationId })).conversation;
    },
    /**
     * Marks the conversation read up to `seq` (only forward), by default up to the last message this
     * client knows of. Resolves with the read position and the unread count after it.
     */
    read: async (conversationId: string, seq?: number): Promise<ConversationReadResult> => {
      await this.ready;
      const upTo = seq ?? Math.max(this.book.lastStoredSeq(conversationId), this.unread.knownSeq(conversationId));
      if (upTo < 1) throw new ParleyError('BAD_REQUEST', 'Nothing of this conversation is known to be read yet');
      const result = await this.session.call('conversation:read', { conversationId, seq: upTo });
      this.unread.snapshot(conversationId, {
        unreadCount: result.unreadCount,
        readSeq: result.seq,
        lastSeq: result.lastSeq,
      });
      return result;
    },
    /** This agent's unread count, kept live; `undefined` until a list, a read or a new conversation said it. */
    unreadCount: (conversationId: string): number | undefined => this.unread.unreadCount(conversationId),
    /** Across the conversations the client knows of. */
    unreadTotal: (): number => this.unread.total(),
    /** Shows at once as pending; resolves once stored (retried across drops until then). */
    send: (conversationId: string, text: string): Promise<Message> => this.book.send(conversationId, text),
    /** Sends a failed message again (same clientMessageId); resolves once it is stored. */
    retry: (message: { conversationId: string; clientMessageId: string }): Promise<Message> =>
      this.book.retry(message.conversationId, message.clientMessageId),
    /** Removes a failed message from its list; false if there is no such failed message. */
    discard: (message: { conversationId: string; clientMessageId: string }): boolean =>
      this.book.discard(message.conversationId, message.clientMessageId),
    /** Every message of the conversation, in order (loads what is missing); the client holds it from then on. */
    history: async (conversationId: string): Promise<ClientMessage[]> => {
      await this.ready;
      await this.book.catchUp(conversationId);
      return this.book.messages(conversationId);
    },
    /** One page over REST, without touching the client's lists. */
    page: async (conversationId: string, afterSeq = 0, limit = 50): Promise<MessagePage> =>
      this.rest('GET', `/conversations/${encodeURIComponent(conversationId)}/messages${query({ afterSeq, limit })}`),
    /** The list the client holds now (empty for a conversation it does not hold). */
    messages: (conversationId: string): ClientMessage[] => this.book.messages(conversationId),
    /** Stop holding a conversation's list (the console closed it); kept while it has unsent messages. */
    release: (conversationId: string): boolean => this.book.release(conversationId),
    setTyping: (conversationId: string, typing: boolean): void => {
      let throttle = this.typing.get(conversationId);
      if (!throttle) {
        throttle = new TypingThrottle((t) => this.session.notify('typing', { conversationId, typing: t }));
        this.typing.set(conversationId, throttle);
      }
      throttle.set(typing);
    },
  };

  /**
   * The presence of the project's agents, loaded once connected and kept live by pushes (a
   * `presence` event for each change), and this agent's own choice.
   */
  readonly presence = {
    /** An agent's status now; `offline` for one not heard of. */
    of: (agentId: string): PresenceStatus => this.presenceBook.of(agentId),
    /** Every agent heard of, with its status. */
    all: (): AgentPresence[] => this.presenceBook.all(),
    /** Loads every agent's status again over REST. */
    refresh: (): Promise<AgentPresence[]> => this.presenceBook.refresh(),
    /** Be online or away (offline is what the server concludes once every socket is gone). */
    set: async (status: ChosenStatus): Promise<AgentPresence> => {
      await this.ready;
      const presence = await this.session.call('agent:status', { status });
      this.presenceBook.apply(presence);
      return presence;
    },
  };

  /** Teams of the project: every agent reads them; owners change them. */
  readonly teams = {
    list: async (): Promise<Team[]> => (await this.rest<TeamListResponse>('GET', '/teams')).items,
    get: async (teamId: string): Promise<Team> =>
      (await this.rest<TeamResponse>('GET', `/teams/${encodeURIComponent(teamId)}`)).team,
    create: async (input: TeamCreateInput): Promise<Team> =>
      (await this.rest<TeamResponse>('POST', '/teams', input)).team,
    update: async (teamId: string, input: TeamUpdateInput): Promise<Team> =>
      (await this.rest<TeamResponse>('PATCH', `/teams/${encodeURIComponent(teamId)}`, input)).team,
    remove: async (teamId: string): Promise<void> => this.rest('DELETE', `/teams/${encodeURIComponent(teamId)}`),
  };

  /** Routing: settings and capacities (owners change them), each agent's load, the queue. */
  readonly routing = {
    get: async (): Promise<RoutingSettings> => (await this.rest<RoutingSettingsResponse>('GET', '/routing')).routing,
    update: async (input: RoutingSettingsUpdateInput): Promise<RoutingSettings> =>
      (await this.rest<RoutingSettingsResponse>('PATCH', '/routing', input)).routing,
    /** Every agent's capacity, active conversations and presence. */
    agents: async (): Promise<AgentRouting[]> =>
      (await this.rest<AgentRoutingListResponse>('GET', '/routing/agents')).items,
    /** An agent's own capacity; `null` for the project's default. */
    setCapacity: async (agentId: string, capacity: number | null): Promise<AgentRouting> =>
      (
        await this.rest<AgentRoutingResponse>('PATCH', `/routing/agents/${encodeURIComponent(agentId)}`, {
          capacity,
        })
      ).agent,
    /** Conversations waiting for an agent, in the order routing assigns them (oldest first). */
    queue: async (filter: QueueQuery = {}): Promise<Page<Conversation>> =>
      this.rest('GET', `/queue${query({ ...filter })}`),
  };

  /** Business hours and what visitors are told when nobody can answer (owners replace them). */
  readonly businessHours = {
    get: async (): Promise<BusinessHours> =>
      (await this.rest<BusinessHoursResponse>('GET', '/business-hours')).businessHours,
    replace: async (input: BusinessHoursInput): Promise<BusinessHours> =>
      (await this.rest<BusinessHoursResponse>('PUT', '/business-hours', input)).businessHours,
  };

  /** Disconnects, stops every timer and request, rejects what is still queued, removes listeners. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelRefresh();
    this.timers.close();
    this.http.close();
    this.book.close();
    this.session.close();
    this.events.clear();
  }

  private async start(): Promise<void> {
    try {
      // As for visitors: an unreachable server is waited out, a refusal rejects `ready`.
      if (!this.held) await untilAvailable(() => this.login(), this.timers);
      const me = await untilAvailable(
        () =>
          this.http.json<{ kind: string; agent?: Agent }>('GET', '/v1/me', {
            token: this.held?.token ?? '',
          }),
        this.timers,
      );
      if (me.kind !== 'agent' || !me.agent) throw new ParleyError('FORBIDDEN', 'This token is not an agent token');
      this.me = me.agent;
      this.scheduleRefresh();
      this.session.connect();
      await this.session.whenOnline();
    } catch (raw) {
      const error = toParleyError(raw);
      // Refused: stop, so that sends and calls fail with the refusal instead of waiting forever.
      this.session.fail(error);
      throw this.session.fatal ?? error;
    }
  }

  private listen(): void {
    const socket = this.session.socket;
    // Forwarded as they come; each listener is typed by the protocol's map.
    socket.on('lead.created', (event) => this.events.emit('lead.created', event));
    socket.on('lead.updated', (event) => this.events.emit('lead.updated', event));
    socket.on('lead.merged', (event) => this.events.emit('lead.merged', event));
    socket.on('lead.deleted', (event) => this.events.emit('lead.deleted', event));
    socket.on('lead.note.created', (event) => this.events.emit('lead.note.created', event));
    socket.on('lead.note.updated', (event) => this.events.emit('lead.note.updated', event));
    socket.on('lead.note.deleted', (event) => this.events.emit('lead.note.deleted', event));
    socket.on('lead.activity', (event) => this.events.emit('lead.activity', event));
    socket.on('conversation.created', (event) => {
      // Nothing of a new conversation is read yet: its visitor's messages count as they come.
      this.unread.snapshot(event.conversation.id, { unreadCount: 0, readSeq: 0, lastSeq: event.conversation.lastSeq });
      this.events.emit('conversation.created', event);
    });
    socket.on('message.read', (event) => {
      // This agent read elsewhere (another console): the count there is the count here.
      if (event.reader.id === this.me?.id && event.unreadCount !== undefined && event.lastSeq !== undefined)
        this.unread.snapshot(event.conversationId, {
          unreadCount: event.unreadCount,
          readSeq: event.seq,
          lastSeq: event.lastSeq,
        });
      this.events.emit('message.read', event);
    });
    socket.on('conversation.updated', (event) => this.events.emit('conversation.updated', event));
    socket.on('typing', (event) => this.events.emit('typing', event));
    socket.on('agent.presence', (event) => {
      this.presenceBook.apply(event);
      this.events.emit('agent.presence', event);
    });
    socket.on('message.created', (event: Payload<'message.created'>) => {
      this.events.emit('message.created', event);
      this.unread.message(event.message);
      this.book.ingest(event.message, { live: true });
    });
    socket.on('sync.reload', (event: Payload<'sync.reload'>) => {
      if (event.reason === 'recovery_failed') {
        this.signalReload();
        return;
      }
      // Pushes may have been lost while this socket stayed connected (see the server's README):
      // always worth a reload, and the open conversations catch up by seq.
      this.events.emit('reload', { reason: event.reason });
      this.book.catchUpAll();
      this.refreshPresence();
    });
  }

  /**
   * Reloads presence in the background, waiting out a server that cannot answer right now; only a
   * refusal is reported (the next reconnect tries again).
   */
  private refreshPresence(): void {
    untilAvailable(() => this.presenceBook.refresh(), this.timers).catch((error: unknown) => {
      if (!this.closed && !this.session.fatal) this.events.emit('error', toParleyError(error));
    });
  }

  /** A status command, once ready. */
  private async move(
    name: 'conversation:resolve' | 'conversation:reopen' | 'conversation:pend',
    conversationId: string,
  ): Promise<Conversation> {
    await this.ready;
    return (await this.session.call(name, { conversationId })).conversation;
  }

  /** A conversation as listed for this agent: its unread count is the server's word. */
  private track(conversation: Conversation): void {
    if (conversation.unreadCount === undefined || conversation.readSeq === undefined) return;
    this.unread.snapshot(conversation.id, {
      unreadCount: conversation.unreadCount,
      readSeq: conversation.readSeq,
      lastSeq: conversation.lastSeq,
    });
  }

  /** A reconnect that was not recovered: said once, whether the client or the server noticed first. */
  private signalReload(): void {
    if (this.reloadSignaled) return;
    this.reloadSignaled = true;
    this.events.emit('reload', { reason: 'recovery_failed' });
  }

  private async login(): Promise<void> {
    if (!('email' in this.options)) throw new ParleyError('UNAUTHORIZED', 'The agent token is no longer valid');
    this.accept(
      await this.http.json<AgentLoginResponse>('POST', '/v1/agents/login', {
        body: { email: this.options.email, password: this.options.password },
      }),
    );
  }

  private accept(response: AgentLoginResponse): void {
    this.held = { token: response.token, receivedAt: this.timers.now() };
    this.me = response.agent;
  }

  /** Refresh with the current token; with credentials, log in again if the token is gone. */
  private async reauthenticate(): Promise<void> {
    try {
      this.accept(
        await this.http.json<AgentLoginResponse>('POST', '/v1/auth/refresh', {
          token: this.held?.token ?? '',
          body: {},
        }),
      );
    } catch (error) {
      if (toParleyError(error).code !== 'UNAUTHORIZED') throw error;
      await this.login();
    }
    this.scheduleRefresh();
  }

  private scheduleRefresh(): void {
    this.cancelRefresh();
    if (!this.held || this.closed) return;
    this.cancelRefresh = this.timers.after(refreshDelay(this.held, this.timers.now()), () => void this.refreshNow());
  }

  private async refreshNow(attempt = 0): Promise<void> {
    if (this.closed || this.session.fatal) return;
    try {
      await this.reauthenticate();
      // `reauthenticate` holds a token once it resolves.
      const token = this.held?.token;
      if (this.session.connected && token !== undefined) {
        await this.session.call('session:renew', { token }).catch(() => undefined);
      }
    } catch (raw) {
      const error = toParleyError(raw);
      if (this.closed) return;
      // A token-only client whose token is refused cannot get another one: that is final.
      if (!error.retryable) {
        this.session.fail(error);
        return;
      }
      this.cancelRefresh = this.timers.after(retryDelay(error, attempt + 4), () => void this.refreshNow(attempt + 1));
    }
  }

  private projectPath(): string {
    return `/v1/projects/${encodeURIComponent(this.me?.projectId ?? '')}`;
  }

  private rest<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.authorized(() =>
      this.http.json<T>(method, `${this.projectPath()}${path}`, {
        token: this.held?.token ?? '',
        ...(body !== undefined ? { body } : {}),
      }),
    );
  }

  /** A REST call once ready, with one new token and one more try if the server refuses the token. */
  private async authorized<T>(call: () => Promise<T>): Promise<T> {
    await this.ready;
    if (this.closed) throw closedError();
    if (this.session.fatal) throw this.session.fatal;
    try {
      return await call();
    } catch (error) {
      if (toParleyError(error).code !== 'UNAUTHORIZED') throw error;
      await this.reauthenticate();
      return call();
    }
  }
}

export function createAgentClient(options: AgentClientOptions): AgentClient {
  if (!options?.url) throw new ParleyError('BAD_REQUEST', 'url is required');
  baseUrlOf(options.url);
  return new AgentClient(options);
}

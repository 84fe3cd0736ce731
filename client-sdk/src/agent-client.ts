import type {
  Agent,
  AgentLoginResponse,
  AgentServerToClientEvents,
  Conversation,
  ConversationHistoryResult,
  ConversationResult,
  ConversationStatus,
  Lead,
  LeadCreateInput,
  LeadDetailResponse,
  LeadMergedResponse,
  LeadPatchInput,
  Message,
  MessagePage,
  MessageSendResult,
  Page,
  SessionRenewResult,
  SyncReloadReason,
} from '@parley/protocol';
import { untilAvailable } from './backoff';
import { ConversationBook } from './conversation-book';
import { Emitter } from './emitter';
import { ParleyError, toParleyError } from './errors';
import { Http } from './http';
import type { ClientMessage } from './message-store';
import { SocketSession, type ConnectionStatus } from './socket-session';
import { refreshTime, Timer } from './token';
import { TypingThrottle } from './typing-throttle';
import type { MessageEvent } from './visitor-client';

export type AgentClientOptions =
  | { url: string; token: string; transports?: ('websocket' | 'polling')[]; ackTimeoutMs?: number }
  | { url: string; email: string; password: string; transports?: ('websocket' | 'polling')[]; ackTimeoutMs?: number };

type Payload<K extends keyof AgentServerToClientEvents> = Parameters<AgentServerToClientEvents[K]>[0];

export interface AgentClientEvents {
  'lead.created': (event: Payload<'lead.created'>) => void;
  'lead.updated': (event: Payload<'lead.updated'>) => void;
  'lead.merged': (event: Payload<'lead.merged'>) => void;
  'lead.deleted': (event: Payload<'lead.deleted'>) => void;
  'conversation.created': (event: Payload<'conversation.created'>) => void;
  'conversation.updated': (event: Payload<'conversation.updated'>) => void;
  'message.created': (event: Payload<'message.created'>) => void;
  typing: (event: Payload<'typing'>) => void;
  /** A conversation's ordered message list changed (live, acked, caught up, or failed). */
  message: (event: MessageEvent) => void;
  /** Events were missed and could not be replayed: reload contact and conversation lists over REST. */
  reload: (event: { reason: SyncReloadReason }) => void;
  status: (status: ConnectionStatus) => void;
  error: (error: ParleyError) => void;
}

export interface ContactSearch {
  email?: string;
  q?: string;
  tag?: string;
  page?: number;
  limit?: number;
}

function query(params: Record<string, string | number | undefined>): string {
  const entries = Object.entries(params).filter((e): e is [string, string | number] => e[1] !== undefined);
  return entries.length === 0
    ? ''
    : `?${entries.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&')}`;
}

/**
 * The agent side of Parley for a console: live events of the project, contacts and
 * conversations over REST, and messages with the same delivery guarantees as the visitor client.
 */
export class AgentClient {
  /**
   * Resolves once logged in and connected for the first time; rejects with a ParleyError if the
   * login or token is refused. While the server cannot be reached it keeps trying.
   */
  readonly ready: Promise<void>;
  private readonly http: Http;
  private readonly events = new Emitter<AgentClientEvents>();
  private readonly session: SocketSession;
  private readonly book: ConversationBook;
  private readonly refreshTimer = new Timer();
  private readonly typing = new Map<string, TypingThrottle>();
  private token: string | undefined;
  private expiresAt = 0;
  private me: Agent | undefined;
  private closed = false;
  private reloadSignaled = false;

  constructor(private readonly options: AgentClientOptions) {
    const url = options.url.replace(/\/+$/, '');
    this.http = new Http(url);
    if ('token' in options) this.token = options.token;
    this.session = new SocketSession({
      url,
      namespace: '/agent',
      token: () => this.token ?? '',
      transports: options.transports ?? ['websocket', 'polling'],
      ...(options.ackTimeoutMs ? { ackTimeoutMs: options.ackTimeoutMs } : {}),
      onStatus: (status) => this.events.emit('status', status),
      onConnect: ({ first, recovered }) => {
        this.reloadSignaled = false;
        if (!first) {
          if (!recovered) this.signalReload();
          void this.book.catchUpAll().catch(() => undefined);
        }
      },
      onUnauthorized: () => this.reauthenticate(),
      onFatal: (error) => this.events.emit('error', error),
    });
    this.book = new ConversationBook({
      sender: () => ({ id: this.me?.id ?? '', role: 'agent', ...(this.me ? { name: this.me.name } : {}) }),
      sendOnce: async (m) =>
        (
          await this.session.call<MessageSendResult>('message:send', {
            conversationId: m.conversationId,
            clientMessageId: m.clientMessageId,
            text: m.text,
          })
        ).message,
      fetchPage: (conversationId, afterSeq, limit) =>
        this.session.call<ConversationHistoryResult>('conversation:history', { conversationId, afterSeq, limit }),
      whenOnline: () => this.session.whenOnline(),
      onMessage: (conversationId, message, messages) =>
        this.events.emit('message', { conversationId, message, messages }),
    });
    this.listen();
    this.ready = this.start();
    this.ready.catch(() => undefined);
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

  /** Contacts (leads) of the agent's project. */
  readonly contacts = {
    search: async (search: ContactSearch = {}): Promise<Page<Lead>> =>
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
    /** The CSV export (same filters as search), as text. */
    exportCsv: async (search: Omit<ContactSearch, 'page' | 'limit'> = {}): Promise<string> => {
      await this.ready;
      return this.http.text('GET', `${this.projectPath()}/leads/export.csv${query({ ...search })}`, {
        token: this.token ?? '',
      });
    },
  };

  /** Conversations of the project, and messages with delivery that survives drops. */
  readonly conversations = {
    list: async (
      filter: { leadId?: string; status?: ConversationStatus; page?: number; limit?: number } = {},
    ): Promise<Page<Conversation>> => this.rest('GET', `/conversations${query({ ...filter })}`),
    join: async (conversationId: string): Promise<Conversation> => {
      await this.ready;
      return (await this.session.call<ConversationResult>('conversation:join', { conversationId })).conversation;
    },
    close: async (conversationId: string): Promise<Conversation> => {
      await this.ready;
      return (await this.session.call<ConversationResult>('conversation:close', { conversationId })).conversation;
    },
    /** Shows at once as pending; resolves once stored (retried across drops until then). */
    send: async (conversationId: string, text: string): Promise<Message> => {
      await this.ready;
      return this.book.send(conversationId, text);
    },
    /** Every message of the conversation, in order (loads what is missing). */
    history: async (conversationId: string): Promise<ClientMessage[]> => {
      await this.ready;
      await this.book.catchUp(conversationId);
      return this.book.messages(conversationId);
    },
    /** One page over REST, without touching the client's lists. */
    page: async (conversationId: string, afterSeq = 0, limit = 50): Promise<MessagePage> =>
      this.rest('GET', `/conversations/${encodeURIComponent(conversationId)}/messages${query({ afterSeq, limit })}`),
    messages: (conversationId: string): ClientMessage[] => this.book.messages(conversationId),
    setTyping: (conversationId: string, typing: boolean): void => {
      let throttle = this.typing.get(conversationId);
      if (!throttle) {
        throttle = new TypingThrottle((t) => this.session.notify('typing', { conversationId, typing: t }));
        this.typing.set(conversationId, throttle);
      }
      throttle.set(typing);
    },
  };

  close(): void {
    this.closed = true;
    this.refreshTimer.clear();
    this.book.close();
    this.session.close();
    this.events.clear();
  }

  private async start(): Promise<void> {
    // As for visitors: an unreachable server is waited out, a refusal rejects `ready`.
    if (!this.token)
      await untilAvailable(
        () => this.login(),
        () => this.closed,
      );
    const me = await untilAvailable(
      () =>
        this.http.json<{ kind: string; agent?: Agent; expiresAt?: string }>('GET', '/v1/me', {
          token: this.token ?? '',
        }),
      () => this.closed,
    );
    if (me.kind !== 'agent' || !me.agent) throw new ParleyError('FORBIDDEN', 'This token is not an agent token');
    this.me = me.agent;
    this.expiresAt = me.expiresAt ? Date.parse(me.expiresAt) : 0;
    this.scheduleRefresh();
    this.session.connect();
    await this.session.whenOnline();
  }

  private listen(): void {
    const socket = this.session.socket;
    const forward = <K extends keyof AgentServerToClientEvents & keyof AgentClientEvents>(event: K) =>
      socket.on(event as string, (payload: unknown) =>
        (this.events.emit as (e: K, p: unknown) => void)(event, payload),
      );
    forward('lead.created');
    forward('lead.updated');
    forward('lead.merged');
    forward('lead.deleted');
    forward('conversation.created');
    forward('conversation.updated');
    forward('typing');
    socket.on('message.created', (event: Payload<'message.created'>) => {
      this.events.emit('message.created', event);
      this.book.ingest(event.message);
    });
    socket.on('sync.reload', (event: Payload<'sync.reload'>) => {
      if (event.reason === 'recovery_failed') {
        this.signalReload();
        return;
      }
      // Pushes may have been lost while this socket stayed connected (see the server's README):
      // always worth a reload, and the open conversations catch up by seq.
      this.events.emit('reload', { reason: event.reason });
      void this.book.catchUpAll().catch(() => undefined);
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
    const res = await this.http.json<AgentLoginResponse>('POST', '/v1/agents/login', {
      body: { email: this.options.email, password: this.options.password },
    });
    this.token = res.token;
    this.expiresAt = Date.parse(res.expiresAt);
    this.me = res.agent;
  }

  /** Refresh with the current token; with credentials, log in again if the token is gone. */
  private async reauthenticate(): Promise<void> {
    try {
      await this.refreshToken();
    } catch (error) {
      if (toParleyError(error).code !== 'UNAUTHORIZED') throw error;
      await this.login();
    }
    this.scheduleRefresh();
  }

  private async refreshToken(): Promise<void> {
    const res = await this.http.json<AgentLoginResponse>('POST', '/v1/auth/refresh', {
      token: this.token ?? '',
      body: {},
    });
    this.token = res.token;
    this.expiresAt = Date.parse(res.expiresAt);
    this.me = res.agent;
  }

  private scheduleRefresh(): void {
    if (!this.token || !this.expiresAt || this.closed) return;
    this.refreshTimer.at(refreshTime(this.token, this.expiresAt), () => void this.refreshNow());
  }

  private async refreshNow(): Promise<void> {
    if (this.closed) return;
    try {
      await this.reauthenticate();
      if (this.session.connected) {
        await this.session.call<SessionRenewResult>('session:renew', { token: this.token }).catch(() => undefined);
      }
    } catch {
      this.refreshTimer.at(Date.now() + 5000, () => void this.refreshNow());
    }
  }

  private projectPath(): string {
    return `/v1/projects/${encodeURIComponent(this.me?.projectId ?? '')}`;
  }

  private async rest<T>(method: string, path: string, body?: unknown): Promise<T> {
    await this.ready;
    const call = () =>
      this.http.json<T>(method, `${this.projectPath()}${path}`, {
        token: this.token ?? '',
        ...(body !== undefined ? { body } : {}),
      });
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
  if (!options.url) throw new ParleyError('BAD_REQUEST', 'url is required');
  return new AgentClient(options);
}

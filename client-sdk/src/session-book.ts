import type { MessageSendResult, ParleyNamespace, Sender } from '@parley/protocol';
import { ConversationBook, DEFAULT_MAX_CONVERSATIONS } from './conversation-book';
import type { ParleyError } from './errors';
import type { SocketSession } from './socket-session';
import type { Timers } from './timers';
import type { MessageEvent } from './visitor-client';

/**
 * A socket session of either namespace: typed over both, its `call` takes the commands `/visitor`
 * and `/agent` share (`message:send`, `conversation:history`: the same input and ack in each),
 * which are all a conversation book sends.
 */
export type BookSession = SocketSession<ParleyNamespace>;

export interface SessionBookOptions {
  session: BookSession;
  timers: Timers;
  /** Who the client sends as, read at each send (the visitor or agent may not be known yet). */
  sender(): Sender;
  /** See ConversationBookDeps: a visitor holds every conversation it hears, an agent the ones it opened. */
  holdOnLiveMessage: boolean;
  maxConversations?: number;
  /**
   * Whether the book still speaks for the client: false once the client closed, or replaced the
   * book (a visitor who signed out); its late messages and errors then reach nobody.
   */
  isCurrent(book: ConversationBook): boolean;
  /**
   * Every `message:send` ack while the book is current, before its message is taken: a visitor's
   * may name a new conversation the message started (the one it was sent to being resolved).
   */
  onSendAck?(sent: { conversationId: string }, ack: MessageSendResult): void;
  onMessage(event: MessageEvent): void;
  /** A background catch-up failed for good (the conversation is gone, access was lost). */
  onError(error: ParleyError): void;
}

/**
 * The conversation book of a visitor or agent client, wired to its socket session: sends go out as
 * `message:send`, missing messages come from `conversation:history`, and what the book announces
 * reaches the client's events while the book is its current one.
 */
export function createSessionBook(options: SessionBookOptions): ConversationBook {
  const { session } = options;
  const book: ConversationBook = new ConversationBook({
    sender: () => options.sender(),
    sendOnce: async ({ conversationId, clientMessageId, text }) => {
      const ack = await session.call('message:send', { conversationId, clientMessageId, text });
      if (options.onSendAck && options.isCurrent(book)) options.onSendAck({ conversationId }, ack);
      return ack.message;
    },
    fetchPage: (conversationId, afterSeq, limit) =>
      session.call('conversation:history', { conversationId, afterSeq, limit }),
    whenOnline: () => session.whenOnline(),
    onMessage: (conversationId, message, messages) => {
      if (options.isCurrent(book)) options.onMessage({ conversationId, message, messages });
    },
    onCatchUpError: (_conversationId, error) => {
      if (options.isCurrent(book)) options.onError(error);
    },
    timers: options.timers,
    holdOnLiveMessage: options.holdOnLiveMessage,
    maxConversations: options.maxConversations ?? DEFAULT_MAX_CONVERSATIONS,
  });
  return book;
}

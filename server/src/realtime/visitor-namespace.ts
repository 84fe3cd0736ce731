import type { Server } from 'socket.io';
import { VISITOR_NAMESPACE, type Project } from '@parley/protocol';
import type { VisitorPrincipal } from '../auth/principal';
import type { TokenService } from '../auth/token-service';
import type { VisitorActor } from '../conversations/actor';
import type { ConversationService } from '../conversations/conversation-service';
import type { ReadPositions } from '../conversations/read-positions';
import { AppError, unauthorized } from '../errors';
import type { Clock } from '../infra/clock';
import type { Logger } from '../infra/logger';
import type { Metrics } from '../infra/metrics';
import type { RateLimits } from '../infra/rate-limits';
import type { SendBufferGuard } from './send-buffer-guard';
import type { LeadService } from '../leads/lead-service';
import { visitorView } from '../leads/lead-origins';
import type { BlockGate, Release } from '../leads/visitor-block-gate';
import type { ActivityService, ActivitySource } from '../activity/activity-service';
import type { LiveVisitors } from '../activity/live-visitors';
import type { MessageService } from '../messages/message-service';
import type { ProjectService } from '../projects/project-service';
import { handshakeToken } from './handshake';
import { buildNamespace } from './namespace-builder';
import { assertOriginAllowed } from './origin-check';
import { rooms, type VisitorNamespace, type VisitorSocketData } from './socket-types';

export interface VisitorNamespaceDeps {
  logger: Logger;
  metrics: Metrics;
  tokens: TokenService;
  projects: ProjectService;
  leads: LeadService;
  conversations: ConversationService;
  reads: ReadPositions;
  messages: MessageService;
  rateLimits: RateLimits;
  sendBuffer: SendBufferGuard;
  clock: Clock;
  /** Refuses a blocked visitor's handshake and every command (issue 15). */
  blocks: BlockGate;
  /** Page views and custom events (issue 15). */
  activity: ActivityService;
  /** Who is on the site now, across nodes. */
  live: LiveVisitors;
}

function actorOf(principal: VisitorPrincipal): VisitorActor {
  return {
    role: 'visitor',
    projectId: principal.projectId,
    userId: principal.userId,
    visitorKind: principal.visitorKind,
  };
}

/** `/visitor`: a website visitor's sockets, one per tab, all in the visitor's own room. */
export function setupVisitorNamespace(io: Server, deps: VisitorNamespaceDeps): VisitorNamespace {
  const {
    logger,
    metrics,
    tokens,
    projects,
    leads,
    conversations,
    reads,
    messages,
    rateLimits,
    sendBuffer,
    clock,
    blocks,
    activity,
    live,
  } = deps;

  return buildNamespace<typeof VISITOR_NAMESPACE, VisitorSocketData, VisitorActor>(
    io,
    {
      name: VISITOR_NAMESPACE,
      check: (socket) => {
        const principal = tokens.verifyVisitor(handshakeToken(socket));
        const admit = (project: Project) => {
          assertOriginAllowed(project.allowedOrigins, socket.handshake.headers.origin);
          socket.data.principal = principal;
        };
        // Only a project that does not exist refuses the token; a database that cannot answer right
        // now is UNAVAILABLE, which clients retry instead of signing in again.
        const cached = projects.peek(principal.projectId);
        const project = cached
          ? Promise.resolve(cached)
          : projects.getCached(principal.projectId).catch((error: unknown) => {
              if (error instanceof AppError && error.code === 'NOT_FOUND') throw unauthorized('Unknown project');
              throw error;
            });
        // A blocked visitor's token is refused here too (visitors have no session to restore, so the
        // round trip delays nothing a recovery would need).
        return Promise.all([project, blocks.check(principal.projectId, principal.userId)]).then(([found]) =>
          admit(found),
        );
      },
      // Visitors have no connection state recovery (their SDK catches up by seq after a reconnect);
      // should it ever be turned on, a restored session must still be this visitor's own.
      holder: 'userId',
      rooms: ({ principal }) => [rooms.user(principal.projectId, principal.userId)],
      actor: ({ principal }) => actorOf(principal),
      rateKey: (principal) => `visitor:${principal.projectId}:${principal.userId}`,
      connected: (socket) => {
        const { principal } = socket.data;
        void activity.seen(principal.projectId, principal.userId);
        // Each socket is a tab of the live list; the visitor leaves it when its last tab closes.
        live.connected(principal.projectId, principal.userId, socket.id);
        socket.once('disconnect', () => live.disconnected(principal.projectId, principal.userId, socket.id));
      },
      commands: ({ socket, actor, rateKey, expiry }) => {
        const source = (): ActivitySource => {
          const p = socket.data.principal;
          return { projectId: p.projectId, userId: p.userId, tabId: socket.id };
        };
        return gatedCommands(
          serialGate(() => blocks.enter(socket.data.principal.projectId, socket.data.principal.userId)),
          {
            'conversation:start': async (input) => {
              await rateLimits.commands.consume(rateKey());
              const { conversation, message } = await conversations.start(actor(), input, {
                // A first message counts as a message: starting conversations must not bypass that limit.
                beforeCreate: async () => {
                  await rateLimits.conversations.consume(rateKey());
                  if (input.text !== undefined) await rateLimits.messages.consume(rateKey());
                },
              });
              return message ? { conversation, message } : { conversation };
            },

            'message:send': async (input) =>
              // Called before any await: the send takes its place in the conversation's line at once.
              conversations.reply(actor(), input, {
                beforeWrite: () => rateLimits.messages.consume(rateKey()),
                // A message that starts a new conversation (the one it was sent to is resolved) counts
                // as both, as at conversation:start.
                beforeContinue: async () => {
                  await rateLimits.conversations.consume(rateKey());
                  await rateLimits.messages.consume(rateKey());
                },
              }),

            'lead:update': async (input) => {
              await rateLimits.commands.consume(rateKey());
              const p = socket.data.principal;
              const { lead } = await leads.resolveForUser(p.projectId, p.userId, p.visitorKind, input, 'visitor');
              // Only what this visitor set itself, even on a contact others' values were merged into.
              return { lead: visitorView(lead, p.userId, await leads.hiddenFromVisitors(p.projectId)) };
            },

            'conversation:list': async () => {
              await rateLimits.commands.consume(rateKey());
              return { conversations: await conversations.listForVisitor(actor()) };
            },

            'conversation:history': async (input) => {
              await rateLimits.commands.consume(rateKey());
              return messages.history(actor(), input.conversationId, input.afterSeq, input.limit);
            },

            'conversation:read': async (input) => {
              await rateLimits.commands.consume(rateKey());
              return reads.read(actor(), input.conversationId, input.seq);
            },

            typing: async (input) => {
              await rateLimits.commands.consume(rateKey());
              await conversations.typing(actor(), input.conversationId, input.typing, socket.id);
              return {};
            },

            // Their own limit, so that a chatty page never eats the visitor's message allowance.
            'page:view': async (input) => {
              await rateLimits.activity.consume(rateKey());
              return activity.pageView(source(), input);
            },

            'event:track': async (input) => {
              await rateLimits.activity.consume(rateKey());
              return activity.track(source(), input);
            },

            'session:renew': async (input) => {
              // Verifying a token costs a signature check: renewals count like any other command.
              await rateLimits.commands.consume(rateKey());
              const renewed = tokens.verifyVisitor(input.token);
              const current = socket.data.principal;
              if (renewed.projectId !== current.projectId || renewed.userId !== current.userId) {
                throw unauthorized('The renewed token is for another visitor');
              }
              socket.data.principal = renewed;
              expiry.reset(renewed.expiresAt);
              return { expiresAt: renewed.expiresAt.toISOString() };
            },
          },
        );
      },
    },
    { logger, metrics, sendBuffer, clock },
  );
}

/**
 * Runs each command of one socket inside the block gate (see visitor-block-gate.ts): checked and
 * held in flight before its handler starts, released when it is done. The checks of one socket are
 * chained, so its handlers still start in the order its commands arrived (message sends take their
 * place in the conversation's line in that order).
 */
function serialGate(enter: () => Promise<Release>): <R>(run: () => Promise<R>) => Promise<R> {
  let previous: Promise<unknown> = Promise.resolve();
  return <R>(run: () => Promise<R>): Promise<R> => {
    const entered = previous.then(enter);
    previous = entered.catch(() => undefined);
    return entered.then(async (release) => {
      try {
        return await run();
      } finally {
        release();
      }
    });
  };
}

function gatedCommands<T extends Record<string, (input: never) => Promise<unknown>>>(
  gate: <R>(run: () => Promise<R>) => Promise<R>,
  table: T,
): T {
  const gated: Record<string, (input: never) => Promise<unknown>> = {};
  for (const [name, handler] of Object.entries(table)) gated[name] = (input: never) => gate(() => handler(input));
  return gated as T;
}

import type { Server } from 'socket.io';
import { AGENT_NAMESPACE, type SyncReloadEvent } from '@parley/protocol';
import type { AgentService } from '../agents/agent-service';
import type { TokenService } from '../auth/token-service';
import type { Config } from '../config';
import type { AgentActor } from '../conversations/actor';
import type { ConversationService } from '../conversations/conversation-service';
import type { ConversationWorkflow } from '../conversations/conversation-workflow';
import type { ReadPositions } from '../conversations/read-positions';
import { AppError, unauthorized } from '../errors';
import type { Clock } from '../infra/clock';
import type { Logger } from '../infra/logger';
import type { Metrics } from '../infra/metrics';
import type { RateLimits } from '../infra/rate-limits';
import type { SendBufferGuard } from './send-buffer-guard';
import type { MessageService } from '../messages/message-service';
import type { PresenceService } from '../presence/presence-service';
import type { RoutingService } from '../routing/routing-service';
import { handshakeToken } from './handshake';
import { buildNamespace } from './namespace-builder';
import { assertOriginAllowed } from './origin-check';
import { rooms, type AgentNamespace, type AgentSocketData } from './socket-types';

export interface AgentNamespaceDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  tokens: TokenService;
  agents: AgentService;
  conversations: ConversationService;
  workflow: ConversationWorkflow;
  reads: ReadPositions;
  messages: MessageService;
  rateLimits: RateLimits;
  sendBuffer: SendBufferGuard;
  clock: Clock;
  presence: PresenceService;
  routing: RoutingService;
}

/** How often each node re-checks the standing of every agent socket it holds (one Redis MGET). */
const SIGNED_OUT_SWEEP_MS = 10_000;

/**
 * `/agent`: agents' consoles. Each socket joins its project's room and hears every lead,
 * conversation and message event of that project, and nothing of any other.
 */
export function setupAgentNamespace(io: Server, deps: AgentNamespaceDeps): AgentNamespace {
  const {
    config,
    logger,
    metrics,
    tokens,
    agents,
    conversations,
    workflow,
    reads,
    messages,
    rateLimits,
    sendBuffer,
    clock,
    presence,
    routing,
  } = deps;

  const namespace = buildNamespace<typeof AGENT_NAMESPACE, AgentSocketData, AgentActor>(
    io,
    {
      name: AGENT_NAMESPACE,
      check: async (socket) => {
        const principal = tokens.verifyAgent(handshakeToken(socket));
        assertOriginAllowed(config.corsOrigins, socket.handshake.headers.origin);
        // The agent must still exist, in the token's project, with the token's credential version:
        // read from the shared standing, so a change made through any node counts here at once.
        const [standing, name] = await Promise.all([agents.authorize(principal), agents.nameOf(principal.agentId)]);
        socket.data.principal = { ...principal, role: standing.role };
        socket.data.name = name;
      },
      holder: 'agentId',
      rooms: ({ principal }) => [rooms.project(principal.projectId), rooms.agent(principal.agentId)],
      actor: ({ principal, name }) => ({
        role: 'agent',
        projectId: principal.projectId,
        agentId: principal.agentId,
        name,
      }),
      rateKey: (principal) => `agent:${principal.agentId}`,
      connected: (socket, resumed) => {
        // Presence counts the agent's sockets on every node: online while one is open, offline once
        // the last has been gone for the grace period.
        const { projectId, agentId } = socket.data.principal;
        presence.connected(projectId, agentId);
        socket.once('disconnect', () => presence.disconnected(projectId, agentId));
        // The client asked to recover a session (it sent its previous session id) and the server
        // could not replay what it missed: its lists may be stale, so it must reload them over REST.
        const triedRecovery = typeof (socket.handshake.auth as { pid?: unknown } | undefined)?.pid === 'string';
        if (resumed === 'refused' || (triedRecovery && resumed === 'fresh')) {
          const event: SyncReloadEvent = { reason: 'recovery_failed' };
          socket.emit('sync.reload', event);
        }
      },
      commands: ({ socket, actor, rateKey, expiry }) => {
        /**
         * Every command first checks the token against the agent's shared standing (one Redis GET,
         * sent alongside the command's rate-limit count, so it adds no round trip to the latency):
         * a removal, a role or a password change made through any node refuses it, and closes the
         * socket right after the refusal is acknowledged.
         */
        const authorize = async (): Promise<void> => {
          try {
            const standing = await agents.authorize(socket.data.principal);
            socket.data.principal = { ...socket.data.principal, role: standing.role };
          } catch (error) {
            if (error instanceof AppError && error.code === 'UNAUTHORIZED') setImmediate(() => socket.disconnect(true));
            throw error;
          }
        };
        const admit = async (): Promise<void> => {
          await Promise.all([authorize(), rateLimits.commands.consume(rateKey())]);
        };

        return {
          'conversation:join': async (input) => {
            await admit();
            return { conversation: await conversations.join(actor(), input.conversationId) };
          },

          // Deprecated alias of conversation:resolve, kept one version.
          'conversation:close': async (input) => {
            await admit();
            return { conversation: await workflow.resolve(actor(), input.conversationId) };
          },

          'conversation:resolve': async (input) => {
            await admit();
            return { conversation: await workflow.resolve(actor(), input.conversationId) };
          },

          'conversation:reopen': async (input) => {
            await admit();
            return { conversation: await workflow.reopen(actor(), input.conversationId) };
          },

          'conversation:snooze': async (input) => {
            await admit();
            return { conversation: await workflow.snooze(actor(), input.conversationId, input.until) };
          },

          'conversation:pend': async (input) => {
            await admit();
            return { conversation: await workflow.pend(actor(), input.conversationId) };
          },

          'conversation:read': async (input) => {
            await admit();
            return reads.read(actor(), input.conversationId, input.seq);
          },

          'conversation:transfer': async (input) => {
            await admit();
            return { conversation: await routing.transfer(actor(), input) };
          },

          'agent:status': async (input) => {
            await admit();
            const { projectId, agentId } = socket.data.principal;
            return presence.choose(projectId, agentId, input.status);
          },

          'message:send': async (input) => {
            const { message } = await messages.send(actor(), input, {
              beforeWrite: async () => {
                await Promise.all([authorize(), rateLimits.messages.consume(rateKey())]);
              },
            });
            return { message };
          },

          'conversation:history': async (input) => {
            await admit();
            return messages.history(actor(), input.conversationId, input.afterSeq, input.limit);
          },

          typing: async (input) => {
            await admit();
            await conversations.typing(actor(), input.conversationId, input.typing, socket.id);
            return {};
          },

          'session:renew': async (input) => {
            // Verifying a token costs a signature check: renewals count like any other command.
            await rateLimits.commands.consume(rateKey());
            const renewed = tokens.verifyAgent(input.token);
            if (renewed.agentId !== socket.data.principal.agentId)
              throw unauthorized('The renewed token is for another agent');
            // A token from before the agent's last credential change renews nothing.
            const standing = await agents.authorize(renewed);
            socket.data.principal = { ...renewed, role: standing.role };
            expiry.reset(renewed.expiresAt);
            return { expiresAt: renewed.expiresAt.toISOString() };
          },
        };
      },
    },
    { logger, metrics, sendBuffer, clock },
  );

  // A node that missed a sign-out (its copy of the broadcast lost) still stops pushing to the
  // agent's sockets within this period; commands are checked one by one anyway.
  const sweep = setInterval(() => {
    const open = [...namespace.sockets.values()].filter((socket) => socket.data.principal);
    if (open.length === 0) return;
    agents.authorizeMany(open.map((socket) => socket.data.principal)).then(
      (valid) => open.forEach((socket, i) => valid[i] === false && socket.disconnect(true)),
      (error: unknown) => logger.warn({ err: error }, 'agent standing sweep failed'),
    );
  }, SIGNED_OUT_SWEEP_MS);
  sweep.unref();

  return namespace;
}

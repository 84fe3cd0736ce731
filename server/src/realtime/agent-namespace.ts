import type { Server } from 'socket.io';
import type { Agent, AgentClientToServerEvents, SyncReloadEvent } from '@parley/protocol';
import {
  conversationCloseSchema,
  conversationHistorySchema,
  conversationJoinSchema,
  messageSendSchema,
  sessionRenewSchema,
  typingSchema,
} from '@parley/protocol/schemas';
import type { AgentService } from '../agents/agent-service';
import type { TokenService } from '../auth/token-service';
import type { Config } from '../config';
import type { Actor } from '../conversations/actor';
import type { ConversationService } from '../conversations/conversation-service';
import { unauthorized } from '../errors';
import type { Logger } from '../infra/logger';
import type { Metrics } from '../infra/metrics';
import type { RateLimits } from '../infra/rate-limits';
import type { MessageService } from '../messages/message-service';
import { commandRegistrar } from './command';
import { handshake } from './handshake';
import { assertOriginAllowed } from './origin-check';
import { closeOnExpiry } from './session';
import { restoredPrincipal, resumeSession } from './session-recovery';
import { rooms, type AgentNamespace, type AgentSocket } from './socket-types';

export interface AgentNamespaceDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  tokens: TokenService;
  agents: AgentService;
  conversations: ConversationService;
  messages: MessageService;
  rateLimits: RateLimits;
}

const NAMESPACE = '/agent';

/**
 * `/agent`: agents' consoles. Each socket joins its project's room and hears every lead,
 * conversation and message event of that project, and nothing of any other.
 */
export function setupAgentNamespace(io: Server, deps: AgentNamespaceDeps): AgentNamespace {
  const { config, logger, metrics, tokens, agents, conversations, messages, rateLimits } = deps;
  // One Server carries two namespaces with different event maps, so each is typed here.
  const namespace = io.of(NAMESPACE) as unknown as AgentNamespace;

  namespace.use(
    handshake<AgentSocket>((socket) => {
      const token: unknown = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
      if (typeof token !== 'string' || token.length === 0) throw unauthorized('Missing token');
      const principal = tokens.verifyAgent(token);
      assertOriginAllowed(config.corsOrigins, socket.handshake.headers.origin);
      const admit = (agent: Agent) => {
        // The agent must still exist and belong to the token's project.
        if (agent.projectId !== principal.projectId) throw unauthorized('Token and agent disagree');
        socket.data.principal = principal;
        socket.data.name = agent.name;
      };
      const cached = agents.peek(principal.agentId);
      if (cached) return admit(cached);
      return agents.getForToken(principal.agentId).then(admit);
    }),
  );

  namespace.on('connection', (socket: AgentSocket) => {
    const principal = socket.data.principal;
    // First, before any live push: replay what a recovered session missed, if it is this agent's.
    const resumed = resumeSession(
      socket,
      (data) =>
        restoredPrincipal(data)?.['agentId'] === principal.agentId &&
        restoredPrincipal(data)?.['projectId'] === principal.projectId,
    );
    metrics.connections.inc({ namespace: NAMESPACE });
    socket.on('disconnect', () => metrics.connections.dec({ namespace: NAMESPACE }));
    void socket.join([rooms.project(principal.projectId), rooms.agent(principal.agentId)]);
    const expiry = closeOnExpiry(socket, principal.expiresAt);

    // The client asked to recover a session (it sent its previous session id) and the server could
    // not replay what it missed: its lists may be stale, so it must reload them over REST.
    const triedRecovery = typeof (socket.handshake.auth as { pid?: unknown } | undefined)?.pid === 'string';
    if (resumed === 'refused' || (triedRecovery && resumed === 'fresh')) {
      const event: SyncReloadEvent = { reason: 'recovery_failed' };
      socket.emit('sync.reload', event);
    }

    const command = commandRegistrar<AgentClientToServerEvents>(socket, NAMESPACE, { logger, metrics });
    const actor = (): Extract<Actor, { role: 'agent' }> => ({
      role: 'agent',
      projectId: socket.data.principal.projectId,
      agentId: socket.data.principal.agentId,
      name: socket.data.name,
    });
    const rateKey = () => `agent:${socket.data.principal.agentId}`;

    command('conversation:join', conversationJoinSchema, async (input) => {
      await rateLimits.commands.consume(rateKey());
      return { conversation: await conversations.join(actor(), input.conversationId) };
    });

    command('conversation:close', conversationCloseSchema, async (input) => {
      await rateLimits.commands.consume(rateKey());
      return { conversation: await conversations.close(actor(), input.conversationId) };
    });

    command('message:send', messageSendSchema, async (input) => {
      const { message } = await messages.send(actor(), input, {
        beforeWrite: () => rateLimits.messages.consume(rateKey()),
      });
      return { message };
    });

    command('conversation:history', conversationHistorySchema, async (input) => {
      await rateLimits.commands.consume(rateKey());
      return messages.history(actor(), input.conversationId, input.afterSeq, input.limit);
    });

    command('typing', typingSchema, async (input) => {
      await rateLimits.commands.consume(rateKey());
      await conversations.typing(actor(), input.conversationId, input.typing, socket.id);
      return {};
    });

    command('session:renew', sessionRenewSchema, async (input) => {
      // Verifying a token costs a signature check: renewals count like any other command.
      await rateLimits.commands.consume(rateKey());
      const renewed = tokens.verifyAgent(input.token);
      if (renewed.agentId !== socket.data.principal.agentId)
        throw unauthorized('The renewed token is for another agent');
      socket.data.principal = renewed;
      expiry.reset(renewed.expiresAt);
      return { expiresAt: renewed.expiresAt.toISOString() };
    });
  });

  return namespace;
}

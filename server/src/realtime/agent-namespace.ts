import type { Server } from 'socket.io';
import { AGENT_NAMESPACE, type SyncReloadEvent } from '@parley/protocol';
import { resumeSession } from '@parley/realtime-adapter';
import type { AgentService } from '../agents/agent-service';
import type { TokenService } from '../auth/token-service';
import type { Config } from '../config';
import type { Actor } from '../conversations/actor';
import type { ConversationService } from '../conversations/conversation-service';
import { AppError, unauthorized } from '../errors';
import type { Logger } from '../infra/logger';
import type { Metrics } from '../infra/metrics';
import type { RateLimits } from '../infra/rate-limits';
import type { MessageService } from '../messages/message-service';
import { commandRegistrar } from './command';
import { handshake } from './handshake';
import { assertOriginAllowed } from './origin-check';
import { closeOnExpiry } from './session';
import { restoredPrincipal } from './restored-principal';
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

const NAMESPACE = AGENT_NAMESPACE;
/** How often each node re-checks the standing of every agent socket it holds (one Redis MGET). */
const SIGNED_OUT_SWEEP_MS = 10_000;

/**
 * `/agent`: agents' consoles. Each socket joins its project's room and hears every lead,
 * conversation and message event of that project, and nothing of any other.
 */
export function setupAgentNamespace(io: Server, deps: AgentNamespaceDeps): AgentNamespace {
  const { config, logger, metrics, tokens, agents, conversations, messages, rateLimits } = deps;
  // One Server carries two namespaces with different event maps, so each is typed here.
  const namespace = io.of(NAMESPACE) as unknown as AgentNamespace;

  namespace.use(
    handshake<AgentSocket>(async (socket) => {
      const token: unknown = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
      if (typeof token !== 'string' || token.length === 0) throw unauthorized('Missing token');
      const principal = tokens.verifyAgent(token);
      assertOriginAllowed(config.corsOrigins, socket.handshake.headers.origin);
      // The agent must still exist, in the token's project, with the token's credential version:
      // read from the shared standing, so a change made through any node counts here at once.
      const [standing, name] = await Promise.all([agents.authorize(principal), agents.nameOf(principal.agentId)]);
      socket.data.principal = { ...principal, role: standing.role };
      socket.data.name = name;
    }),
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

    const command = commandRegistrar(socket, NAMESPACE, { logger, metrics });
    const actor = (): Extract<Actor, { role: 'agent' }> => ({
      role: 'agent',
      projectId: socket.data.principal.projectId,
      agentId: socket.data.principal.agentId,
      name: socket.data.name,
    });
    const rateKey = () => `agent:${socket.data.principal.agentId}`;
    /**
     * Every command first checks the token against the agent's shared standing (one Redis GET, sent
     * alongside the command's rate-limit count, so it adds no round trip to the latency): a
     * removal, a role or a password change made through any node refuses it, and closes the
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

    command('conversation:join', async (input) => {
      await admit();
      return { conversation: await conversations.join(actor(), input.conversationId) };
    });

    command('conversation:close', async (input) => {
      await admit();
      return { conversation: await conversations.close(actor(), input.conversationId) };
    });

    command('message:send', async (input) => {
      const { message } = await messages.send(actor(), input, {
        beforeWrite: async () => {
          await Promise.all([authorize(), rateLimits.messages.consume(rateKey())]);
        },
      });
      return { message };
    });

    command('conversation:history', async (input) => {
      await admit();
      return messages.history(actor(), input.conversationId, input.afterSeq, input.limit);
    });

    command('typing', async (input) => {
      await admit();
      await conversations.typing(actor(), input.conversationId, input.typing, socket.id);
      return {};
    });

    command('session:renew', async (input) => {
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
    });
  });

  return namespace;
}

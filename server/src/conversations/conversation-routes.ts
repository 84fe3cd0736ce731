import type { Router } from 'express';
import type { MessagePage } from '@parley/protocol';
import { LIMITS } from '@parley/protocol';
import { conversationListQuerySchema, messageListQuerySchema } from '@parley/protocol/schemas';
import { agentOf, type HttpAuth } from '../http/http-auth';
import { param } from '../http/request-input';
import type { MessageService } from '../messages/message-service';
import { parseInput } from '../validation';
import type { ConversationList } from './conversation-list';
import { exactRouter } from '../http/router';

export interface ConversationRoutesDeps {
  auth: HttpAuth;
  conversations: ConversationList;
  messages: MessageService;
}

/** Conversations and their messages, for agents of `:projectId`. */
export function conversationRoutes({ auth, conversations, messages }: ConversationRoutesDeps): Router {
  const router = exactRouter();
  const base = '/projects/:projectId/conversations';
  router.use(base, auth.requireProjectAgent);

  router.get(base, async (req, res) => {
    const { page, limit, ...filters } = parseInput(conversationListQuerySchema, req.query);
    res.json(await conversations.page(param(req, 'projectId'), agentOf(res).agentId, filters, page, limit));
  });

  router.get(`${base}/:conversationId`, async (req, res) => {
    res.json({
      conversation: await conversations.get(
        param(req, 'projectId'),
        agentOf(res).agentId,
        param(req, 'conversationId'),
      ),
    });
  });

  router.get(`${base}/:conversationId/messages`, async (req, res) => {
    const query = parseInput(messageListQuerySchema, req.query);
    const page = await messages.pageInProject(
      param(req, 'projectId'),
      param(req, 'conversationId'),
      query.afterSeq ?? 0,
      query.limit ?? LIMITS.historyLimitDefault,
    );
    const body: MessagePage = { items: page.messages, hasMore: page.hasMore };
    res.json(body);
  });

  return router;
}

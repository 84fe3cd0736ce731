import type { Router } from 'express';
import type { QueryFilter } from 'mongoose';
import type { Conversation, MessagePage, Page } from '@parley/protocol';
import { LIMITS } from '@parley/protocol';
import { conversationListQuerySchema, messageListQuerySchema } from '@parley/protocol/schemas';
import { notFound } from '../errors';
import type { HttpAuth } from '../http/http-auth';
import { param } from '../http/request-input';
import type { MessageService } from '../messages/message-service';
import { parseInput } from '../validation';
import type { ConversationDoc, ConversationModel } from './conversation-model';
import { toConversation } from './conversation-view';
import { exactRouter } from '../http/router';

export interface ConversationRoutesDeps {
  auth: HttpAuth;
  conversations: ConversationModel;
  messages: MessageService;
}

/** Conversations and their messages, for agents of `:projectId`. */
export function conversationRoutes({ auth, conversations, messages }: ConversationRoutesDeps): Router {
  const router = exactRouter();
  const base = '/projects/:projectId/conversations';
  router.use(base, auth.requireProjectAgent);

  router.get(base, async (req, res) => {
    const query = parseInput(conversationListQuerySchema, req.query);
    const page = query.page ?? 1;
    const limit = query.limit ?? LIMITS.pageLimitDefault;
    const filter: QueryFilter<ConversationDoc> = { projectId: param(req, 'projectId') };
    if (query.leadId) filter.leadId = query.leadId;
    if (query.status) filter.status = query.status;
    const [docs, total] = await Promise.all([
      conversations
        .find(filter)
        .sort({ updatedAt: -1, _id: -1 })
        .skip((page - 1) * limit)
        .limit(limit)
        .lean<ConversationDoc[]>()
        .exec(),
      conversations.countDocuments(filter).exec(),
    ]);
    const body: Page<Conversation> = { items: docs.map(toConversation), total, page, limit };
    res.json(body);
  });

  router.get(`${base}/:conversationId`, async (req, res) => {
    const doc = await conversations
      .findOne({ _id: param(req, 'conversationId'), projectId: param(req, 'projectId') })
      .lean<ConversationDoc>()
      .exec();
    if (!doc) throw notFound('Conversation');
    res.json({ conversation: toConversation(doc) });
  });

  router.get(`${base}/:conversationId/messages`, async (req, res) => {
    const query = parseInput(messageListQuerySchema, req.query);
    const conversationId = param(req, 'conversationId');
    const exists = await conversations.exists({ _id: conversationId, projectId: param(req, 'projectId') }).exec();
    if (!exists) throw notFound('Conversation');
    const page = await messages.page(conversationId, query.afterSeq ?? 0, query.limit ?? LIMITS.historyLimitDefault);
    const body: MessagePage = { items: page.messages, hasMore: page.hasMore };
    res.json(body);
  });

  return router;
}

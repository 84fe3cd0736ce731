import { LIMITS, type CannedResponse, type Page } from '@parley/protocol';
import { renderTemplate } from '@parley/protocol/schemas';
import { AppError, isDuplicateKeyError, notFound } from '../errors';
import type { AgentService } from '../agents/agent-service';
import type { ConversationModel } from '../conversations/conversation-model';
import { iso, newId } from '../infra/ids';
import { rawCollection } from '../infra/raw-collection';
import { escapeRegex } from '../leads/lead-search';
import type { LeadService } from '../leads/lead-service';
import type { CannedResponseDoc, CannedResponseModel } from './canned-response-model';

export function toCannedResponse(doc: CannedResponseDoc): CannedResponse {
  return {
    id: doc._id,
    projectId: doc.projectId,
    shortCode: doc.shortCode,
    text: doc.text,
    createdAt: iso(doc.createdAt),
    updatedAt: iso(doc.updatedAt),
  };
}

/** The schemas' output: short codes already trimmed and lower-cased, texts with known fields only. */
type CannedResponseFields = { shortCode: string; text: string };

const taken = () => new AppError('CONFLICT', 'Another canned response has this short code');

/**
 * A project's canned responses: replies agents insert by short code. Short codes are unique per
 * project by index (a duplicate is CONFLICT, however two agents race). Texts are stored as
 * written; `render` fills in their fields for one conversation, on the server, so that every
 * console shows the same text and none needs the contact's data to do it.
 */
export class CannedResponseService {
  constructor(
    private readonly responses: CannedResponseModel,
    private readonly conversations: ConversationModel,
    private readonly leads: LeadService,
    private readonly agents: AgentService,
  ) {}

  /** Sorted by short code; `q` a prefix of it (an anchored range scan of the unique index). */
  async list(
    projectId: string,
    q: string | undefined,
    page = 1,
    limit: number = LIMITS.pageLimitDefault,
  ): Promise<Page<CannedResponse>> {
    const filter = q === undefined ? { projectId } : { projectId, shortCode: { $regex: `^${escapeRegex(q)}` } };
    const [docs, total] = await Promise.all([
      this.responses
        .find(filter)
        .sort({ shortCode: 1 })
        .skip((page - 1) * limit)
        .limit(limit)
        .lean<CannedResponseDoc[]>()
        .exec(),
      this.responses.countDocuments(filter).exec(),
    ]);
    return { items: docs.map(toCannedResponse), total, page, limit };
  }

  async create(projectId: string, input: CannedResponseFields): Promise<CannedResponse> {
    const now = new Date();
    const doc: CannedResponseDoc = {
      _id: newId(),
      projectId,
      shortCode: input.shortCode,
      text: input.text,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await rawCollection(this.responses).insertOne(doc);
    } catch (error) {
      if (isDuplicateKeyError(error)) throw taken();
      throw error;
    }
    return toCannedResponse(doc);
  }

  async get(projectId: string, id: string): Promise<CannedResponse> {
    return toCannedResponse(await this.getDoc(projectId, id));
  }

  async update(projectId: string, id: string, patch: Partial<CannedResponseFields>): Promise<CannedResponse> {
    let doc: CannedResponseDoc | null;
    try {
      doc = await this.responses
        .findOneAndUpdate(
          { _id: id, projectId },
          { $set: { ...patch, updatedAt: new Date() } },
          { returnDocument: 'after' },
        )
        .lean<CannedResponseDoc>()
        .exec();
    } catch (error) {
      if (isDuplicateKeyError(error)) throw taken();
      throw error;
    }
    if (!doc) throw notFound('Canned response');
    return toCannedResponse(doc);
  }

  async remove(projectId: string, id: string): Promise<void> {
    const { deletedCount } = await this.responses.deleteOne({ _id: id, projectId }).exec();
    if (deletedCount !== 1) throw notFound('Canned response');
  }

  /** The text for one conversation of the project, written by `agentId`: fields without a value are empty. */
  async render(projectId: string, id: string, conversationId: string, agentId: string): Promise<string> {
    const [response, conversation] = await Promise.all([
      this.getDoc(projectId, id),
      this.conversations
        .findOne({ _id: conversationId, projectId })
        .select({ leadId: 1 })
        .lean<{ leadId: string }>()
        .exec(),
    ]);
    if (!conversation) throw notFound('Conversation');
    const [lead, agent] = await Promise.all([
      this.leads.get(projectId, conversation.leadId),
      this.agents.get(projectId, agentId),
    ]);
    const values: Record<string, string | undefined> = {
      'contact.fullname': lead.fullname,
      'contact.lastname': lead.lastname,
      'contact.email': lead.email,
      'contact.phone': lead.phone,
      'agent.name': agent.name,
      'agent.email': agent.email,
      'conversation.id': conversationId,
    };
    for (const [key, value] of Object.entries(lead.attributes))
      if (value !== null) values[`contact.attributes.${key}`] = String(value);
    return renderTemplate(response.text, values);
  }

  private async getDoc(projectId: string, id: string): Promise<CannedResponseDoc> {
    const doc = await this.responses.findOne({ _id: id, projectId }).lean<CannedResponseDoc>().exec();
    if (!doc) throw notFound('Canned response');
    return doc;
  }
}

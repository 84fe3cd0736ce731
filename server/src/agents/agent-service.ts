import type { Agent, AgentCreateInput } from '@parley/protocol';
import { AppError, isDuplicateKeyError, notFound } from '../errors';
import { iso } from '../infra/ids';
import type { EventBus } from '../infra/event-bus';
import { TtlCache } from '../infra/ttl-cache';
import type { AgentDoc, AgentModel } from './agent-model';
import { decoyHash, hashPassword, verifyPassword } from './password';

export function toAgent(doc: AgentDoc): Agent {
  return {
    id: doc._id,
    projectId: doc.projectId,
    email: doc.email,
    name: doc.name,
    role: doc.role,
    createdAt: iso(doc.createdAt),
  };
}

/** Agents are looked up on every agent handshake; they change rarely (name, removal). */
const CACHE_FRESH_MS = 30_000;
const CACHE_MAX_AGE_MS = 10 * 60_000;

export class AgentService {
  private readonly cache = new TtlCache<Agent>(CACHE_FRESH_MS, CACHE_MAX_AGE_MS);

  constructor(
    private readonly agents: AgentModel,
    private readonly bus: EventBus,
  ) {}

  /** The cached agent, synchronously (refreshed in the background when stale), or undefined. */
  peek(agentId: string): Agent | undefined {
    const hit = this.cache.peek(agentId);
    if (hit && !hit.fresh) this.get(agentId).catch(() => this.cache.delete(agentId));
    return hit?.value;
  }

  async create(projectId: string, input: AgentCreateInput & { email: string }): Promise<Agent> {
    const passwordHash = await hashPassword(input.password);
    try {
      const doc = await this.agents.create({
        projectId,
        email: input.email,
        name: input.name,
        role: input.role ?? 'agent',
        passwordHash,
      });
      return toAgent(doc.toObject());
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new AppError('CONFLICT', 'An agent with this email already exists');
      throw error;
    }
  }

  async get(agentId: string): Promise<Agent> {
    const doc = await this.agents.findById(agentId).lean<AgentDoc>().exec();
    if (!doc) {
      this.cache.delete(agentId);
      throw notFound('Agent');
    }
    const agent = toAgent(doc);
    this.cache.set(agentId, agent);
    return agent;
  }

  /**
   * The agent a token speaks for: a removed agent makes the token UNAUTHORIZED; a database that
   * cannot answer stays UNAVAILABLE (clients retry that instead of signing in again).
   */
  async getForToken(agentId: string): Promise<Agent> {
    return this.get(agentId).catch((error: unknown) => {
      if (error instanceof AppError && error.code === 'NOT_FOUND') throw new AppError('UNAUTHORIZED', 'Unknown agent');
      throw error;
    });
  }

  /** One answer for an unknown email and a wrong password, in about the same time. */
  async authenticate(email: string, password: string): Promise<Agent> {
    const doc = await this.agents.findOne({ email }).lean<AgentDoc>().exec();
    const ok = await verifyPassword(password, doc?.passwordHash ?? (await decoyHash()));
    if (!doc || !ok) throw new AppError('UNAUTHORIZED', 'Invalid email or password');
    return toAgent(doc);
  }

  async listForProject(projectId: string): Promise<Agent[]> {
    const docs = await this.agents.find({ projectId }).sort({ createdAt: 1, _id: 1 }).lean<AgentDoc[]>().exec();
    return docs.map(toAgent);
  }

  /**
   * Removes an agent: its tokens stop opening anything (this node at once; others within the
   * cache's freshness, about 30 s) and its open sockets are closed on every node.
   */
  async remove(projectId: string, agentId: string): Promise<void> {
    const deleted = await this.agents.deleteOne({ _id: agentId, projectId }).exec();
    this.cache.delete(agentId);
    if (deleted.deletedCount === 0) throw notFound('Agent');
    this.bus.publish('agent.removed', { projectId, agentId });
  }

  async countForProject(projectId: string): Promise<number> {
    return this.agents.countDocuments({ projectId }).exec();
  }
}

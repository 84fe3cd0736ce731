import type { Agent, AgentCreateInput, AgentRole } from '@parley/protocol';
import type { AgentPrincipal } from '../auth/principal';
import { AppError, isDuplicateKeyError, notFound, unauthorized } from '../errors';
import { iso } from '../infra/ids';
import type { EventBus } from '../infra/event-bus';
import { TtlCache } from '../infra/ttl-cache';
import type { AgentDoc, AgentModel } from './agent-model';
import { removedStanding, type AgentStanding, type StandingStore } from './agent-standing';
import type { PasswordHasher } from './password';

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

function standingOf(doc: Pick<AgentDoc, 'projectId' | 'role' | 'credentialVersion'>): AgentStanding {
  return { version: doc.credentialVersion ?? 0, projectId: doc.projectId, role: doc.role };
}

/** An agent with the credential version its new tokens carry. */
export interface AgentAccount {
  agent: Agent;
  credentialVersion: number;
}

/**
 * The agent's display name for its messages: it may be a little stale (30 s, at most 10 min),
 * which is harmless. Whether the agent may act at all never comes from here, but from the standing.
 */
const NAME_FRESH_MS = 30_000;
const NAME_MAX_AGE_MS = 10 * 60_000;

export class AgentService {
  private readonly names = new TtlCache<string>(NAME_FRESH_MS, NAME_MAX_AGE_MS);

  constructor(
    private readonly agents: AgentModel,
    private readonly bus: EventBus,
    private readonly passwords: PasswordHasher,
    private readonly standings: StandingStore,
  ) {}

  async create(projectId: string, input: AgentCreateInput & { email: string }): Promise<Agent> {
    const passwordHash = await this.passwords.hash(input.password);
    try {
      const doc = await this.agents.create({
        projectId,
        email: input.email,
        name: input.name,
        role: input.role ?? 'agent',
        passwordHash,
        credentialVersion: 0,
      });
      return toAgent(doc.toObject());
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new AppError('CONFLICT', 'An agent with this email already exists');
      throw error;
    }
  }

  async get(projectId: string, agentId: string): Promise<Agent> {
    const doc = await this.agents.findOne({ _id: agentId, projectId }).lean<AgentDoc>().exec();
    if (!doc) throw notFound('Agent');
    return toAgent(doc);
  }

  /**
   * Whether a token may act, checked on every REST request, handshake and socket command: the
   * agent still exists in the token's project and its credentials did not change since the token
   * was issued. Answers with the agent's current standing (its role is the one to enforce).
   */
  async authorize(principal: AgentPrincipal): Promise<AgentStanding> {
    const [standing] = await this.standingsOf([principal.agentId]);
    return assertValid(principal, standing);
  }

  /** `authorize` for many sockets at once (one Redis round trip). */
  async authorizeMany(principals: AgentPrincipal[]): Promise<boolean[]> {
    const standings = await this.standingsOf(principals.map((p) => p.agentId));
    return principals.map((principal, i) => {
      try {
        assertValid(principal, standings[i]);
        return true;
      } catch {
        return false;
      }
    });
  }

  /** The agent behind a token that `authorize` accepts, read from the database (refresh, `/me`). */
  async getForToken(principal: AgentPrincipal): Promise<AgentAccount> {
    await this.authorize(principal);
    const doc = await this.agents.findById(principal.agentId).lean<AgentDoc>().exec();
    if (!doc) throw unauthorized('Unknown agent');
    assertValid(principal, standingOf(doc));
    return { agent: toAgent(doc), credentialVersion: doc.credentialVersion ?? 0 };
  }

  /** The agent's name, for its messages and typing; from the database when not cached here. */
  async nameOf(agentId: string): Promise<string> {
    const hit = this.names.peek(agentId);
    if (hit?.fresh) return hit.value;
    const doc = await this.agents.findById(agentId, { name: 1 }).lean<Pick<AgentDoc, 'name'>>().exec();
    if (!doc) throw unauthorized('Unknown agent');
    this.names.set(agentId, doc.name);
    return doc.name;
  }

  /** One answer for an unknown email and a wrong password, in about the same time. */
  async authenticate(email: string, password: string): Promise<AgentAccount> {
    const doc = await this.agents.findOne({ email }).lean<AgentDoc>().exec();
    const ok = await this.passwords.verify(password, doc?.passwordHash ?? (await this.passwords.decoyHash()));
    if (!doc || !ok) throw new AppError('UNAUTHORIZED', 'Invalid email or password');
    if (this.passwords.needsRehash(doc.passwordHash)) await this.rehash(doc, password);
    return { agent: toAgent(doc), credentialVersion: doc.credentialVersion ?? 0 };
  }

  /**
   * Stores a hash at the current cost for a password that just verified against an older one. Only
   * over that very hash, so a password changed meanwhile is never overwritten; the same password
   * keeps every token valid (no version change).
   */
  private async rehash(doc: AgentDoc, password: string): Promise<void> {
    const passwordHash = await this.passwords.hash(password);
    await this.agents.updateOne({ _id: doc._id, passwordHash: doc.passwordHash }, { $set: { passwordHash } }).exec();
  }

  async listForProject(projectId: string): Promise<Agent[]> {
    const docs = await this.agents.find({ projectId }).sort({ createdAt: 1, _id: 1 }).lean<AgentDoc[]>().exec();
    return docs.map(toAgent);
  }

  /**
   * Changes an agent's name or role. A role change signs the agent out everywhere (its tokens name
   * the old role, and consoles read the role at sign-in); a name change does not.
   */
  async update(projectId: string, agentId: string, input: { name?: string; role?: AgentRole }): Promise<Agent> {
    const current = await this.agents.findOne({ _id: agentId, projectId }).lean<AgentDoc>().exec();
    if (!current) throw notFound('Agent');
    const roleChanges = input.role !== undefined && input.role !== current.role;
    const set: Partial<AgentDoc> = {};
    if (input.name !== undefined) set.name = input.name;
    if (input.role !== undefined) set.role = input.role;
    const doc = await this.agents
      .findOneAndUpdate(
        { _id: agentId, projectId },
        roleChanges ? { $set: set, $inc: { credentialVersion: 1 } } : { $set: set },
        { new: true },
      )
      .lean<AgentDoc>()
      .exec();
    if (!doc) throw notFound('Agent');
    if (input.name !== undefined) this.names.set(agentId, doc.name);
    if (roleChanges) await this.signOut(doc);
    return toAgent(doc);
  }

  /** Sets a new password (an admin's or owner's reset): the agent is signed out everywhere. */
  async setPassword(projectId: string, agentId: string, password: string): Promise<Agent> {
    const passwordHash = await this.passwords.hash(password);
    const doc = await this.agents
      .findOneAndUpdate(
        { _id: agentId, projectId },
        { $set: { passwordHash }, $inc: { credentialVersion: 1 } },
        { new: true },
      )
      .lean<AgentDoc>()
      .exec();
    if (!doc) throw notFound('Agent');
    await this.signOut(doc);
    return toAgent(doc);
  }

  /**
   * An agent changes its own password, proving the current one. Every token is signed out,
   * including the one used here; the caller gets a fresh one (see the route).
   */
  async changeOwnPassword(
    principal: AgentPrincipal,
    currentPassword: string,
    newPassword: string,
  ): Promise<AgentAccount> {
    const doc = await this.agents.findById(principal.agentId).lean<AgentDoc>().exec();
    if (!doc || !(await this.passwords.verify(currentPassword, doc.passwordHash))) {
      throw new AppError('FORBIDDEN', 'The current password is wrong');
    }
    const passwordHash = await this.passwords.hash(newPassword);
    // Over the hash just verified: two changes racing each other cannot both win.
    const updated = await this.agents
      .findOneAndUpdate(
        { _id: doc._id, passwordHash: doc.passwordHash },
        { $set: { passwordHash }, $inc: { credentialVersion: 1 } },
        { new: true },
      )
      .lean<AgentDoc>()
      .exec();
    if (!updated) throw new AppError('CONFLICT', 'The password was changed meanwhile');
    await this.signOut(updated);
    return { agent: toAgent(updated), credentialVersion: updated.credentialVersion ?? 0 };
  }

  /**
   * Removes an agent: its tokens stop opening anything on every node at once (the shared standing
   * is raised before this answers), and its open sockets are closed on every node. Repeating it
   * after a failure re-raises the standing, so a removal always completes.
   */
  async remove(projectId: string, agentId: string): Promise<void> {
    const doc = await this.agents.findOne({ _id: agentId }, { projectId: 1 }).lean<AgentDoc>().exec();
    if (doc && doc.projectId !== projectId) throw notFound('Agent');
    const deleted = await this.agents.deleteOne({ _id: agentId, projectId }).exec();
    this.names.delete(agentId);
    if (deleted.deletedCount === 0 && doc === null) {
      // Already gone: make sure the shared standing says so (an earlier attempt may have failed there).
      await this.standings.raise(agentId, removedStanding()).catch(() => undefined);
      throw notFound('Agent');
    }
    await this.raise(agentId, removedStanding());
    this.bus.publish('agent.signedOut', { projectId, agentId });
  }

  async countForProject(projectId: string): Promise<number> {
    return this.agents.countDocuments({ projectId }).exec();
  }

  private async signOut(doc: AgentDoc): Promise<void> {
    await this.raise(doc._id, standingOf(doc));
    this.bus.publish('agent.signedOut', { projectId: doc.projectId, agentId: doc._id });
  }

  /**
   * The change is in the database already; until the shared standing has it too, other nodes may
   * still accept old tokens, so a failure here is the caller's to retry (UNAVAILABLE), never silent.
   */
  private async raise(agentId: string, standing: AgentStanding): Promise<void> {
    try {
      await this.standings.raise(agentId, standing);
    } catch {
      throw new AppError('UNAVAILABLE', 'Redis is unavailable: the change is stored but not yet enforced, try again');
    }
  }

  /**
   * From the shared store; misses are read from the database (by primary key) and filled in. When
   * the store cannot answer (Redis down), the database answers every time: slower, never wrong.
   */
  private async standingsOf(agentIds: string[]): Promise<(AgentStanding | undefined)[]> {
    let stored: (AgentStanding | undefined)[];
    let storeUp = true;
    try {
      stored = await this.standings.getMany(agentIds);
    } catch {
      stored = agentIds.map(() => undefined);
      storeUp = false;
    }
    const missing = agentIds.filter((_, i) => stored[i] === undefined);
    if (missing.length === 0) return stored;
    const docs = await this.agents
      .find({ _id: { $in: missing } }, { projectId: 1, role: 1, credentialVersion: 1 })
      .lean<AgentDoc[]>()
      .exec();
    const found = new Map(docs.map((doc) => [doc._id, standingOf(doc)]));
    return Promise.all(
      agentIds.map(async (id, i) => {
        const known = stored[i];
        if (known) return known;
        const standing = found.get(id) ?? removedStanding();
        if (storeUp) await this.standings.fill(id, standing).catch(() => undefined);
        return standing;
      }),
    );
  }
}

function assertValid(principal: AgentPrincipal, standing: AgentStanding | undefined): AgentStanding {
  if (!standing || standing.removed) throw unauthorized('Unknown agent');
  if (standing.projectId !== principal.projectId) throw unauthorized('Token and agent disagree');
  if (standing.version !== principal.credentialVersion) {
    throw unauthorized("Signed out: the agent's password or role changed since this token was issued");
  }
  return standing;
}

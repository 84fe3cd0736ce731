import type { Agent, AgentCreateInput, AgentRole } from '@parley/protocol';
import type { AgentPrincipal } from '../auth/principal';
import { AppError, isDuplicateKeyError, notFound, unauthorized } from '../errors';
import { iso } from '../infra/ids';
import type { EventBus } from '../infra/event-bus';
import type { LeaseLocks, LeaseOptions } from '../infra/lease-lock';
import { TtlCache } from '../infra/ttl-cache';
import type { AgentDoc, AgentModel } from './agent-model';
import { removedStanding, type AgentStanding, type StandingStore } from './agent-standing';
import type { PasswordHasher } from './password';
import { standingOf, type StandingSync } from './standing-sync';

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

/**
 * Role changes and removals in one project run one at a time across nodes, so that "another owner
 * remains" is still true when the change is written (two owners demoting each other at once).
 */
const TEAM_LOCK: LeaseOptions = {
  leaseMs: 10_000,
  waitMs: 5_000,
  busyMessage: "Another change to this project's team is in progress; try again in a moment",
};

export class AgentService {
  private readonly names = new TtlCache<string>(NAME_FRESH_MS, NAME_MAX_AGE_MS);

  constructor(
    private readonly agents: AgentModel,
    private readonly bus: EventBus,
    private readonly passwords: PasswordHasher,
    private readonly standings: StandingStore,
    private readonly sync: StandingSync,
    private readonly locks: LeaseLocks,
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

  /**
   * One answer for an unknown email and a wrong password, after the same work: one scrypt either
   * way (`verifyAccount` checks an unknown email against a decoy hash at the current cost).
   */
  async authenticate(email: string, password: string): Promise<AgentAccount> {
    const doc = await this.agents.findOne({ email }).lean<AgentDoc>().exec();
    const ok = await this.passwords.verifyAccount(password, doc?.passwordHash);
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
   * the old role, and consoles read the role at sign-in); a name change does not. A project keeps
   * at least one owner: demoting the last one is a CONFLICT.
   */
  async update(projectId: string, agentId: string, input: { name?: string; role?: AgentRole }): Promise<Agent> {
    if (input.role === undefined) return this.rename(projectId, agentId, input.name);
    const role = input.role;
    return this.locks.withLock(teamLock(projectId), TEAM_LOCK, async () => {
      const current = await this.agents.findOne({ _id: agentId, projectId }).lean<AgentDoc>().exec();
      if (!current) throw notFound('Agent');
      const roleChanges = role !== current.role;
      if (roleChanges && current.role === 'owner') await this.assertAnotherOwner(projectId, agentId);
      const set: Partial<AgentDoc> = { role };
      if (input.name !== undefined) set.name = input.name;
      const nonce = roleChanges ? await this.sync.mark(agentId) : undefined;
      const doc = await this.agents
        .findOneAndUpdate(
          { _id: agentId, projectId },
          roleChanges ? { $set: set, $inc: { credentialVersion: 1 } } : { $set: set },
          { returnDocument: 'after' },
        )
        .lean<AgentDoc>()
        .exec();
      if (!doc) throw notFound('Agent');
      if (input.name !== undefined) this.names.set(agentId, doc.name);
      if (nonce !== undefined) await this.signOut(doc, nonce);
      return toAgent(doc);
    });
  }

  private async rename(projectId: string, agentId: string, name: string | undefined): Promise<Agent> {
    const doc = await this.agents
      .findOneAndUpdate({ _id: agentId, projectId }, name === undefined ? {} : { $set: { name } }, {
        returnDocument: 'after',
      })
      .lean<AgentDoc>()
      .exec();
    if (!doc) throw notFound('Agent');
    this.names.set(agentId, doc.name);
    return toAgent(doc);
  }

  /** Refuses a change that would leave the project without an owner (called under the team lock). */
  private async assertAnotherOwner(projectId: string, agentId: string): Promise<void> {
    const others = await this.agents.countDocuments({ projectId, role: 'owner', _id: { $ne: agentId } }).exec();
    if (others === 0) {
      throw new AppError('CONFLICT', 'A project needs at least one owner: make another agent an owner first');
    }
  }

  /** Sets a new password (an admin's or owner's reset): the agent is signed out everywhere. */
  async setPassword(projectId: string, agentId: string, password: string): Promise<Agent> {
    const passwordHash = await this.passwords.hash(password);
    const nonce = await this.sync.mark(agentId);
    const doc = await this.agents
      .findOneAndUpdate(
        { _id: agentId, projectId },
        { $set: { passwordHash }, $inc: { credentialVersion: 1 } },
        { returnDocument: 'after' },
      )
      .lean<AgentDoc>()
      .exec();
    if (!doc) throw notFound('Agent');
    await this.signOut(doc, nonce);
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
    const nonce = await this.sync.mark(doc._id);
    // Over the hash just verified: two changes racing each other cannot both win.
    const updated = await this.agents
      .findOneAndUpdate(
        { _id: doc._id, passwordHash: doc.passwordHash },
        { $set: { passwordHash }, $inc: { credentialVersion: 1 } },
        { returnDocument: 'after' },
      )
      .lean<AgentDoc>()
      .exec();
    if (!updated) throw new AppError('CONFLICT', 'The password was changed meanwhile');
    await this.signOut(updated, nonce);
    return { agent: toAgent(updated), credentialVersion: updated.credentialVersion ?? 0 };
  }

  /**
   * Removes an agent: its tokens stop opening anything on every node at once (see `signOut`), and
   * its open sockets are closed on every node. Repeating it re-applies the standing, so a removal
   * always completes. The last owner of a project cannot be removed (CONFLICT).
   */
  async remove(projectId: string, agentId: string): Promise<void> {
    await this.locks.withLock(teamLock(projectId), TEAM_LOCK, async () => {
      const doc = await this.agents.findOne({ _id: agentId }, { projectId: 1, role: 1 }).lean<AgentDoc>().exec();
      if (doc && doc.projectId !== projectId) throw notFound('Agent');
      if (doc?.role === 'owner') await this.assertAnotherOwner(projectId, agentId);
      const nonce = await this.sync.mark(agentId);
      const deleted = await this.agents.deleteOne({ _id: agentId, projectId }).exec();
      this.names.delete(agentId);
      // Already gone: the standing is applied all the same (an earlier attempt may have stopped short).
      await this.sync.settle(agentId, nonce, removedStanding());
      if (deleted.deletedCount === 0 && doc === null) throw notFound('Agent');
      await this.bus.publish('agent.signedOut', { projectId, agentId });
    });
  }

  async countForProject(projectId: string): Promise<number> {
    return this.agents.countDocuments({ projectId }).exec();
  }

  /**
   * After a change to the agent's standing was written (marked pending first): the shared store
   * takes it, and the agent's sockets are closed everywhere. When Redis does not take it, the change
   * is still enforced everywhere (see StandingSync): a node that lost Redis answers from the
   * database until it applied every pending standing to the Redis that came back, and a node that
   * still reaches Redis applies it within a second. So the request succeeds either way.
   */
  private async signOut(doc: AgentDoc, nonce: string): Promise<void> {
    await this.sync.settle(doc._id, nonce, standingOf(doc));
    await this.bus.publish('agent.signedOut', { projectId: doc.projectId, agentId: doc._id });
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

function teamLock(projectId: string): string {
  return `team:${projectId}`;
}

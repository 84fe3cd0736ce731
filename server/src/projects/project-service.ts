import { randomBytes } from 'node:crypto';
import type {
  PreChatForm,
  Project,
  ProjectCreateInput,
  ProjectUpdateInput,
  ResolvedConversationReply,
} from '@parley/protocol';
import { AppError, notFound } from '../errors';
import type { Clock } from '../infra/clock';
import { iso } from '../infra/ids';
import { TtlCache } from '../infra/ttl-cache';
import type { ProjectDoc, ProjectModel } from './project-model';

const DEFAULT_PRE_CHAT_FORM: PreChatForm = {
  enabled: true,
  fields: [
    { name: 'fullname', label: 'Your name', type: 'text', required: true },
    { name: 'email', label: 'Email', type: 'email', required: true },
  ],
};

function newSecret(): string {
  return `ps_${randomBytes(32).toString('base64url')}`;
}

export function toProject(doc: ProjectDoc): Project {
  return {
    id: doc._id,
    name: doc.name,
    allowedOrigins: [...doc.allowedOrigins],
    preChatForm: {
      enabled: doc.preChatForm.enabled,
      fields: doc.preChatForm.fields.map((f) => ({
        name: f.name,
        label: f.label,
        type: f.type,
        required: f.required,
      })),
    },
    resolvedConversationReply: doc.resolvedConversationReply ?? 'reopen',
    createdAt: iso(doc.createdAt),
  };
}

/**
 * Handshakes and sign-ins look a project up on every connect. Projects change rarely (origins,
 * form), so they are cached: fresh for 10 s, then served stale (at most 10 minutes old) while a
 * background read refreshes them. A change shows within seconds on every node.
 */
const CACHE_FRESH_MS = 10_000;
const CACHE_MAX_AGE_MS = 10 * 60_000;
/** Rotations racing each other: each attempt re-reads the secrets. */
const MAX_ROTATE_ATTEMPTS = 8;

export class ProjectService {
  private readonly cache = new TtlCache<Project>(CACHE_FRESH_MS, CACHE_MAX_AGE_MS);

  constructor(
    private readonly projects: ProjectModel,
    private readonly secretRotationGraceSeconds: number,
    /** Grace periods are written by one node and honoured by all: on the cluster's clock. */
    private readonly clock: Clock,
  ) {}

  /** Like `get`, through the cache. */
  async getCached(projectId: string): Promise<Project> {
    return this.peek(projectId) ?? this.load(projectId);
  }

  /**
   * The cached project, synchronously, or undefined when it has never been read here. A stale
   * entry is returned at once and refreshed in the background.
   */
  peek(projectId: string): Project | undefined {
    const hit = this.cache.peek(projectId);
    if (hit && !hit.fresh) this.load(projectId).catch(() => this.cache.delete(projectId));
    return hit?.value;
  }

  private async load(projectId: string): Promise<Project> {
    const project = await this.get(projectId);
    this.cache.set(projectId, project);
    return project;
  }

  /** What a visitor's message into a resolved conversation does (through the cache: seconds behind a change). */
  async resolvedConversationReply(projectId: string): Promise<ResolvedConversationReply> {
    return (await this.getCached(projectId)).resolvedConversationReply;
  }

  async create(input: ProjectCreateInput): Promise<{ project: Project; secret: string }> {
    const secret = newSecret();
    const doc = await this.projects.create({
      name: input.name,
      allowedOrigins: input.allowedOrigins ?? [],
      preChatForm: input.preChatForm ?? DEFAULT_PRE_CHAT_FORM,
      resolvedConversationReply: input.resolvedConversationReply ?? 'reopen',
      secrets: [{ value: secret, createdAt: new Date() }],
    });
    return { project: toProject(doc.toObject()), secret };
  }

  async get(projectId: string): Promise<Project> {
    return toProject(await this.getDoc(projectId));
  }

  async exists(projectId: string): Promise<boolean> {
    return (await this.projects.exists({ _id: projectId })) !== null;
  }

  async update(projectId: string, input: ProjectUpdateInput): Promise<Project> {
    const doc = await this.projects
      .findOneAndUpdate({ _id: projectId }, { $set: input }, { returnDocument: 'after' })
      .lean<ProjectDoc>()
      .exec();
    if (!doc) throw notFound('Project');
    this.cache.delete(projectId);
    return toProject(doc);
  }

  /**
   * A new secret becomes current; the previous one keeps verifying until the grace period ends, so
   * a customer can roll it out to their backends without a window of failed sign-ins. Secrets from
   * earlier rotations keep their own grace periods. The write is compare-and-set on the current
   * secret, so racing rotations each get a secret that verifies: the loser re-reads and rotates
   * again on top of the winner's.
   */
  async rotateSecret(projectId: string): Promise<{ secret: string; previousSecretExpiresAt: string }> {
    for (let attempt = 0; attempt < MAX_ROTATE_ATTEMPTS; attempt++) {
      const now = this.clock.date();
      const graceEnd = new Date(now.getTime() + this.secretRotationGraceSeconds * 1000);
      const doc = await this.getDoc(projectId);
      const [current, ...older] = doc.secrets;
      const stillValid = older.filter((s) => s.expiresAt && s.expiresAt.getTime() > now.getTime());
      const kept = current ? [{ ...current, expiresAt: graceEnd }, ...stillValid] : stillValid;
      const secret = newSecret();
      const filter = current ? { _id: projectId, 'secrets.0.value': current.value } : { _id: projectId, secrets: [] };
      const updated = await this.projects
        .updateOne(filter, { $set: { secrets: [{ value: secret, createdAt: now }, ...kept] } })
        .exec();
      if (updated.matchedCount === 1) return { secret, previousSecretExpiresAt: iso(graceEnd) };
    }
    throw new AppError('UNAVAILABLE', 'The project secret is being rotated by others; try again');
  }

  /** The id of a project with this name, if any (the demo seed resuming after a crash). */
  async findIdByName(name: string): Promise<string | undefined> {
    const doc = await this.projects.findOne({ name }).select({ _id: 1 }).lean<{ _id: string }>().exec();
    return doc?._id;
  }

  /** Secrets that verify a customer's token right now, current first. */
  async activeSecrets(projectId: string): Promise<string[]> {
    const doc = await this.getDoc(projectId);
    const now = this.clock.now();
    return doc.secrets.filter((s) => !s.expiresAt || s.expiresAt.getTime() > now).map((s) => s.value);
  }

  async count(): Promise<number> {
    return this.projects.estimatedDocumentCount().exec();
  }

  private async getDoc(projectId: string): Promise<ProjectDoc> {
    const doc = await this.projects.findById(projectId).lean<ProjectDoc>().exec();
    if (!doc) throw notFound('Project');
    return doc;
  }
}

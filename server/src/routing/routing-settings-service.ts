import type { RoutingSettings, RoutingSettingsUpdateInput } from '@parley/protocol';
import { isDuplicateKeyError } from '../errors';
import type { RoutingSettingsDoc, RoutingSettingsModel } from './routing-settings-model';

/** Until an owner says otherwise: agents pick conversations up themselves, as before routing existed. */
export const DEFAULT_ROUTING: RoutingSettings = { mode: 'manual', defaultCapacity: 5, requeueOffline: true };

function toSettings(doc: RoutingSettingsDoc | null): RoutingSettings {
  if (!doc) return { ...DEFAULT_ROUTING };
  return { mode: doc.mode, defaultCapacity: doc.defaultCapacity, requeueOffline: doc.requeueOffline };
}

/**
 * A project's routing settings. Read from the database on every routing decision (one read by
 * primary key), so a change made through any node counts at once everywhere.
 */
export class RoutingSettingsService {
  constructor(private readonly settings: RoutingSettingsModel) {}

  async get(projectId: string): Promise<RoutingSettings> {
    return toSettings(await this.settings.findById(projectId).lean<RoutingSettingsDoc>().exec());
  }

  /** Changes what the input sets, from the defaults if the project had nothing stored. */
  async update(projectId: string, input: RoutingSettingsUpdateInput): Promise<RoutingSettings> {
    const set: Partial<RoutingSettingsDoc> = { updatedAt: new Date() };
    if (input.mode !== undefined) set.mode = input.mode;
    if (input.defaultCapacity !== undefined) set.defaultCapacity = input.defaultCapacity;
    if (input.requeueOffline !== undefined) set.requeueOffline = input.requeueOffline;
    const defaults = Object.fromEntries(
      Object.entries(DEFAULT_ROUTING).filter(([key]) => !(key in set)),
    ) as Partial<RoutingSettings>;
    const write = () =>
      this.settings
        .findOneAndUpdate(
          { _id: projectId },
          { $set: set, $setOnInsert: defaults },
          { upsert: true, returnDocument: 'after' },
        )
        .lean<RoutingSettingsDoc>()
        .exec();
    // Two first writes racing: one inserts, the other's upsert hits the key and updates on retry.
    const doc = await write().catch((error: unknown) => {
      if (isDuplicateKeyError(error)) return write();
      throw error;
    });
    return toSettings(doc);
  }

  /** The projects routed automatically: every node sweeps their queues. */
  async autoProjects(): Promise<string[]> {
    const docs = await this.settings.find({ mode: 'auto' }, { _id: 1 }).lean<{ _id: string }[]>().exec();
    return docs.map((d) => d._id);
  }
}

import { Schema, type Connection, type Model } from 'mongoose';
import type { RoutingMode } from '@parley/protocol';

/** A project's routing settings; a project without one has the defaults. */
export interface RoutingSettingsDoc {
  _id: string;
  mode: RoutingMode;
  defaultCapacity: number;
  requeueOffline: boolean;
  updatedAt: Date;
}

const routingSettingsSchema = new Schema<RoutingSettingsDoc>(
  {
    _id: { type: String, required: true },
    mode: { type: String, required: true, enum: ['manual', 'auto'] },
    defaultCapacity: { type: Number, required: true },
    requeueOffline: { type: Boolean, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false },
);

// Every node's sweep reads the projects routed automatically.
routingSettingsSchema.index({ mode: 1 });

export type RoutingSettingsModel = Model<RoutingSettingsDoc>;

export function registerRoutingSettingsModel(connection: Connection): RoutingSettingsModel {
  return connection.model<RoutingSettingsDoc>('RoutingSettings', routingSettingsSchema, 'routing_settings');
}

import { Schema, type Connection, type Model } from 'mongoose';
import type { PropertyType } from '@parley/protocol';

export interface PropertyDoc {
  _id: string;
  projectId: string;
  /** The attribute key the property types; unique in the project. */
  key: string;
  label: string;
  type: PropertyType;
  options?: string[];
  visitorWritable: boolean;
  visibleToVisitor: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** One per project (`_id` is the project id): how attribute keys without a definition are treated. */
export interface PropertySettingsDoc {
  _id: string;
  definedKeysOnly: boolean;
}

const propertySchema = new Schema<PropertyDoc>(
  {
    _id: { type: String, required: true },
    projectId: { type: String, required: true },
    key: { type: String, required: true },
    label: { type: String, required: true },
    type: { type: String, required: true },
    options: { type: [String], default: undefined },
    visitorWritable: { type: Boolean, required: true },
    visibleToVisitor: { type: Boolean, required: true },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false },
);

// One definition per key of a project, however two owners race; the list comes off it in order.
propertySchema.index({ projectId: 1, key: 1 }, { unique: true });

const propertySettingsSchema = new Schema<PropertySettingsDoc>(
  { _id: { type: String, required: true }, definedKeysOnly: { type: Boolean, required: true } },
  { versionKey: false },
);

export type PropertyModel = Model<PropertyDoc>;
export type PropertySettingsModel = Model<PropertySettingsDoc>;

export function registerPropertyModels(connection: Connection): {
  properties: PropertyModel;
  propertySettings: PropertySettingsModel;
} {
  return {
    properties: connection.model<PropertyDoc>('Property', propertySchema, 'properties'),
    propertySettings: connection.model<PropertySettingsDoc>(
      'PropertySettings',
      propertySettingsSchema,
      'propertysettings',
    ),
  };
}

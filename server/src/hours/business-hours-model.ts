import { Schema, type Connection, type Model } from 'mongoose';
import type { OpeningInterval, Weekday } from '@parley/protocol';

/** A project's business hours and away settings; a project without one has the defaults. */
export interface BusinessHoursDoc {
  _id: string;
  enabled: boolean;
  timeZone: string;
  weekly: Record<Weekday, OpeningInterval[]>;
  closedDates: string[];
  awayMessage?: string;
  askForEmailWhenAway: boolean;
  updatedAt: Date;
}

const businessHoursSchema = new Schema<BusinessHoursDoc>(
  {
    _id: { type: String, required: true },
    enabled: { type: Boolean, required: true },
    timeZone: { type: String, required: true },
    // Validated by the protocol's schema before it gets here; stored as given.
    weekly: { type: Schema.Types.Mixed, required: true },
    closedDates: { type: [String], default: [] },
    awayMessage: String,
    askForEmailWhenAway: { type: Boolean, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false, minimize: false },
);

export type BusinessHoursModel = Model<BusinessHoursDoc>;

export function registerBusinessHoursModel(connection: Connection): BusinessHoursModel {
  return connection.model<BusinessHoursDoc>('BusinessHours', businessHoursSchema, 'business_hours');
}

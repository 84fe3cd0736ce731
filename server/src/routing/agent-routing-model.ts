import { Schema, type Connection, type Model } from 'mongoose';

/** One conversation held against an agent's capacity. */
export interface Slot {
  /** The conversation. */
  c: string;
  at: Date;
  /** Reserved by routing and not yet confirmed by the conversation's assignment. */
  r?: boolean;
}

/**
 * An agent as routing keeps it: the capacity of its own, if any, and the conversations that count
 * against it. The slots make "at most capacity" one conditional update on one document: taking
 * one succeeds only while fewer than the capacity are held, whichever node asks.
 */
export interface AgentRoutingDoc {
  _id: string;
  projectId: string;
  capacity?: number;
  slots: Slot[];
  /** Ties between agents with as many conversations go to the one assigned least recently. */
  lastAssignedAt?: Date;
}

const agentRoutingSchema = new Schema<AgentRoutingDoc>(
  {
    _id: { type: String, required: true },
    projectId: { type: String, required: true },
    capacity: Number,
    slots: { type: [{ _id: false, c: String, at: Date, r: Boolean }], default: [] },
    lastAssignedAt: Date,
  },
  { versionKey: false },
);

agentRoutingSchema.index({ projectId: 1 });
// Who holds a conversation: freeing it when it is resolved, moved or erased.
agentRoutingSchema.index({ 'slots.c': 1 });

export type AgentRoutingModel = Model<AgentRoutingDoc>;

export function registerAgentRoutingModel(connection: Connection): AgentRoutingModel {
  return connection.model<AgentRoutingDoc>('AgentRouting', agentRoutingSchema, 'agent_routing');
}

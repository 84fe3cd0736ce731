/**
 * What the orchestrator and a load worker say to each other over the fork IPC channel. Every
 * request carries an id; the worker answers it with one `result` or `error`, and may send
 * `progress` lines before that.
 */
export type TargetKind = 'baseline' | 'parley';

export interface OpenSpec {
  url: string;
  kind: TargetKind;
  projectId: string;
  /** An agent socket that listens to the project (Parley: an agent token; baseline: any string). */
  agentToken?: string;
  /** How many visitors to add to the ones the worker already holds. */
  visitors: number;
  /** Start one conversation per new visitor (needed to send messages). */
  startConversations: boolean;
  /** Sign-ins and connects in flight at once. */
  concurrency: number;
}

export interface ClosedLoadSpec {
  durationMs: number;
  /** Messages each visitor may have sent and not yet seen acknowledged. */
  window: number;
}

export interface OpenLoadSpec {
  /** Messages per second this worker offers, spread round-robin over its visitors. */
  ratePerSec: number;
  durationMs: number;
  /** How long to wait, after the last send, for acks and deliveries still on their way. */
  drainMs: number;
  /**
   * Sends are skipped (and counted) while this many are unacknowledged: a saturated server then
   * shows as a lower achieved rate and high latency, without a backlog that spills into whatever
   * is measured next.
   */
  maxUnacked: number;
}

export type WorkerRequest =
  | { id: number; type: 'open'; spec: OpenSpec }
  | { id: number; type: 'closed-load'; spec: ClosedLoadSpec }
  | { id: number; type: 'open-load'; spec: OpenLoadSpec }
  | { id: number; type: 'close' };

export interface OpenResult {
  /** Visitors held after this step (all steps so far). */
  visitors: number;
  added: number;
  failed: number;
  firstError?: string;
  /** Wall time of this step: sign-in + connect (+ conversation start) of the added visitors. */
  elapsedMs: number;
  signInMs: number;
}

export interface LoadResult {
  elapsedMs: number;
  sent: number;
  acked: number;
  failed: number;
  firstError?: string;
  /** Acks received inside the measured window (closed loop) or at all (open loop). */
  ackedInWindow: number;
  /** `message.created` received by the worker's agent for its own visitors' messages. */
  delivered: number;
  deliveredInWindow: number;
  /** Send → agent receive, ms, one sample per delivered message, on the worker's clock. */
  deliveryLatencies: number[];
  /** Send → ack, ms. */
  ackLatencies: number[];
  /** Sent but neither delivered to the agent before the drain ended. */
  undelivered: number;
  /** Open loop: sends due but skipped because `maxUnacked` were still in flight. */
  skipped: number;
}

export type WorkerReply =
  | { id: number; type: 'progress'; done: number; total: number }
  | { id: number; type: 'result'; result: unknown }
  | { id: number; type: 'error'; message: string };

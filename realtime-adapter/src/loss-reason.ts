/**
 * Why the sockets of a namespace are told that pushes may have been lost:
 * - `stream_gap`: stream entries were trimmed (or lost by Redis) before this node read them;
 * - `node_lost`: a node fell silent without saying goodbye, maybe holding unsent pushes;
 * - `pushes_dropped`: a node dropped pushes for the others while Redis was away too long.
 */
export type LossReason = 'stream_gap' | 'node_lost' | 'pushes_dropped';

import { Schema, type Connection, type Model } from 'mongoose';
import type { ImportCounts, ImportMatchKey, ImportStatus, ImportTarget } from '@parley/protocol';

/**
 * An import job. Its state is all here (and the file in `import_chunks`), never in a node's
 * memory: whichever node holds the lease runs it, and a node that takes over an expired lease
 * continues from `rowsDone`.
 */
export interface ImportDoc {
  _id: string;
  projectId: string;
  status: ImportStatus;
  dryRun: boolean;
  matchKey: ImportMatchKey;
  /** Stored as pairs: column headers are free text, not safe as stored field names. */
  mapping: { column: string; target: ImportTarget }[];
  /** Given by the caller; `null` until detected when `auto`. */
  delimiter: ',' | ';' | null;
  /** Whether the upload finished: an upload cut part-way is never run (`failed`). */
  uploaded: boolean;
  bytes: number;
  chunkCount: number;
  /** Chunks read when the last batch was checkpointed (progress). */
  chunksRead: number;
  /** Data rows handled and checkpointed: a node resuming skips this many. */
  rowsDone: number;
  counts: ImportCounts;
  errorCount: number;
  failure: string | null;
  createdBy: string;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  leaseOwner: string | null;
  leaseUntil: Date | null;
  /** Runs cut by an unexpected error (not a node's death): past a few, the job fails. */
  attempts?: number;
}

/** A piece of an uploaded file, in order (`n`), like GridFS chunks. */
export interface ImportChunkDoc {
  _id: string;
  importId: string;
  n: number;
  data: Buffer;
}

/** A refused row; `(importId, line)` is unique, so a resumed batch records it once. */
export interface ImportErrorDoc {
  _id: string;
  importId: string;
  line: number;
  column: string;
  message: string;
}

const importSchema = new Schema<ImportDoc>(
  {
    _id: { type: String, required: true },
    projectId: { type: String, required: true },
    status: { type: String, required: true },
    dryRun: { type: Boolean, required: true },
    matchKey: { type: String, required: true },
    mapping: { type: Schema.Types.Mixed, required: true },
    delimiter: { type: String, default: null },
    uploaded: { type: Boolean, required: true },
    bytes: { type: Number, required: true },
    chunkCount: { type: Number, required: true },
    chunksRead: { type: Number, required: true },
    rowsDone: { type: Number, required: true },
    counts: { type: Schema.Types.Mixed, required: true },
    errorCount: { type: Number, required: true },
    failure: { type: String, default: null },
    createdBy: { type: String, required: true },
    createdAt: { type: Date, required: true },
    startedAt: { type: Date, default: null },
    finishedAt: { type: Date, default: null },
    leaseOwner: { type: String, default: null },
    leaseUntil: { type: Date, default: null },
    attempts: { type: Number, default: 0 },
  },
  { versionKey: false, minimize: false },
);
// Workers look for runnable jobs by status and lease.
importSchema.index({ status: 1, leaseUntil: 1 });
importSchema.index({ projectId: 1, createdAt: -1 });

const chunkSchema = new Schema<ImportChunkDoc>(
  {
    _id: { type: String, required: true },
    importId: { type: String, required: true },
    n: { type: Number, required: true },
    data: { type: Buffer, required: true },
  },
  { versionKey: false },
);
chunkSchema.index({ importId: 1, n: 1 }, { unique: true });

const errorSchema = new Schema<ImportErrorDoc>(
  {
    _id: { type: String, required: true },
    importId: { type: String, required: true },
    line: { type: Number, required: true },
    column: { type: String, required: true },
    message: { type: String, required: true },
  },
  { versionKey: false },
);
errorSchema.index({ importId: 1, line: 1 }, { unique: true });

export type ImportModel = Model<ImportDoc>;
export type ImportChunkModel = Model<ImportChunkDoc>;
export type ImportErrorModel = Model<ImportErrorDoc>;

export interface ImportModels {
  imports: ImportModel;
  chunks: ImportChunkModel;
  errors: ImportErrorModel;
}

export function registerImportModels(connection: Connection): ImportModels {
  return {
    imports: connection.model<ImportDoc>('LeadImport', importSchema, 'lead_imports'),
    chunks: connection.model<ImportChunkDoc>('LeadImportChunk', chunkSchema, 'lead_import_chunks'),
    errors: connection.model<ImportErrorDoc>('LeadImportError', errorSchema, 'lead_import_errors'),
  };
}

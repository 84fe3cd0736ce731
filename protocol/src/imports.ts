/** Contact imports (extension): a CSV of contacts upserted by a match key, run as a resumable job. */

/** The lead field a column goes to: a profile field, `tags`, `userId` (the match key) or `attributes.<key>`. */
export type ImportTarget =
  'fullname' | 'lastname' | 'email' | 'phone' | 'tags' | 'userId' | 'ignore' | `attributes.${string}`;

export type ImportMatchKey = 'email' | 'userId';
export type ImportStatus = 'queued' | 'running' | 'completed' | 'failed';

export interface ImportCounts {
  /** Rows that made a new contact (or would, in a dry run). */
  created: number;
  /** Rows that changed an existing contact. */
  updated: number;
  /** Rows whose contact already held every value. */
  skipped: number;
  /** Rows refused (their errors say why). */
  failed: number;
}

export interface LeadImport {
  id: string;
  projectId: string;
  status: ImportStatus;
  /** Reports what would happen and writes nothing. */
  dryRun: boolean;
  matchKey: ImportMatchKey;
  /** CSV column header → lead field. */
  mapping: Record<string, ImportTarget>;
  /** The separator in use: given, or detected from the header line once the job has started. */
  delimiter: ',' | ';' | null;
  /** Size of the uploaded file. */
  bytes: number;
  /** Data rows handled so far (the header is not a row). */
  rowsProcessed: number;
  /** 0 to 1: the share of the file read so far (by stored chunk, so it moves in steps). */
  progress: number;
  counts: ImportCounts;
  /** Row errors recorded (`GET …/errors.csv`); at most `IMPORT_LIMITS.errorsMax` are kept. */
  errorCount: number;
  /** Why the whole job failed (a header without a mapped column, a file that is not UTF-8…). */
  failure: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface LeadImportResponse {
  import: LeadImport;
}

/** Agents' push, once per batch of rows (not once per contact) and once at the end. */
export interface LeadImportEvent {
  import: LeadImport;
}

/** Bounds of imports (kept apart from LIMITS so that this extension stays in its own file). */
export const IMPORT_LIMITS = {
  /** The largest CSV accepted, in bytes. */
  fileBytesMax: 50 * 1024 * 1024,
  /** Mapped columns at most. */
  columnsMax: 100,
  /** A header or cell longer than this is a row error (a single field cannot grow without end). */
  fieldCharsMax: 10_000,
  /** Row errors kept per import; later ones are counted in `failed` but not stored. */
  errorsMax: 10_000,
} as const;

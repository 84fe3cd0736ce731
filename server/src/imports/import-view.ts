import type { LeadImport } from '@parley/protocol';
import type { ImportDoc } from './import-model';

export function toLeadImport(doc: ImportDoc): LeadImport {
  return {
    id: doc._id,
    projectId: doc.projectId,
    status: doc.status,
    dryRun: doc.dryRun,
    matchKey: doc.matchKey,
    mapping: Object.fromEntries(doc.mapping.map(({ column, target }) => [column, target])),
    delimiter: doc.delimiter,
    bytes: doc.bytes,
    rowsProcessed: doc.rowsDone,
    progress: doc.status === 'completed' ? 1 : doc.chunkCount === 0 ? 0 : Math.min(1, doc.chunksRead / doc.chunkCount),
    counts: { ...doc.counts },
    errorCount: doc.errorCount,
    failure: doc.failure,
    createdAt: doc.createdAt.toISOString(),
    startedAt: doc.startedAt ? doc.startedAt.toISOString() : null,
    finishedAt: doc.finishedAt ? doc.finishedAt.toISOString() : null,
  };
}

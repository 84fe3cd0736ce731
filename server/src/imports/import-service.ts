import { TextDecoder } from 'node:util';
import { IMPORT_LIMITS, type LeadImport, type LeadImportQuery } from '@parley/protocol';
import { AppError, notFound } from '../errors';
import type { Clock } from '../infra/clock';
import { newId } from '../infra/ids';
import { CsvError, CsvParser } from './csv-parser';
import type { ImportDoc, ImportErrorDoc, ImportModels } from './import-model';
import { planColumns } from './import-row';
import type { ImportTiming } from './import-runner';
import { toLeadImport } from './import-view';

/** Stored piece of an upload: under MongoDB's 16 MB document limit with room, like GridFS's 255 KB. */
export const CHUNK_BYTES = 255 * 1024;

const DELIMITERS = { comma: ',', semicolon: ';' } as const;

/**
 * Uploads and reads imports. An upload is streamed into `lead_import_chunks` as it arrives (never
 * held whole), under a lease the uploading node renews per chunk: if it dies, the job is marked
 * failed rather than run on half a file. The job runs once the whole file is stored.
 */
export class ImportService {
  constructor(
    private readonly models: ImportModels,
    private readonly clock: Clock,
    private readonly timing: ImportTiming,
    private readonly onQueued: () => void,
  ) {}

  async create(
    projectId: string,
    agentId: string,
    query: LeadImportQuery,
    body: AsyncIterable<Buffer>,
  ): Promise<LeadImport> {
    const id = newId();
    const uploader = `upload:${newId()}`;
    const now = this.clock.date();
    const mapping = Object.entries(query.mapping).map(([column, target]) => ({ column, target }));
    const given = query.delimiter && query.delimiter !== 'auto' ? DELIMITERS[query.delimiter] : null;
    const doc: ImportDoc = {
      _id: id,
      projectId,
      status: 'queued',
      dryRun: query.dryRun ?? false,
      matchKey: query.matchKey,
      mapping,
      delimiter: given,
      uploaded: false,
      bytes: 0,
      chunkCount: 0,
      chunksRead: 0,
      rowsDone: 0,
      counts: { created: 0, updated: 0, skipped: 0, failed: 0 },
      errorCount: 0,
      failure: null,
      createdBy: agentId,
      createdAt: now,
      startedAt: null,
      finishedAt: null,
      leaseOwner: uploader,
      leaseUntil: this.leaseEnd(),
    };
    await this.models.imports.create(doc);
    // The header is checked as it streams past, so a mapping naming a missing column is refused now.
    const header = new HeaderCheck(given ?? undefined);
    let bytes = 0;
    let n = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const data = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      await this.models.chunks.create({ _id: `${id}:${n}`, importId: id, n, data });
      n++;
      await this.models.imports.updateOne({ _id: id }, { $set: { leaseUntil: this.leaseEnd() } }).exec();
    };
    try {
      for await (const piece of body) {
        bytes += piece.length;
        if (bytes > IMPORT_LIMITS.fileBytesMax)
          throw new AppError('PAYLOAD_TOO_LARGE', `The file is larger than ${IMPORT_LIMITS.fileBytesMax} bytes`);
        header.push(piece);
        pending.push(piece);
        pendingBytes += piece.length;
        // A chunk goes to the database before more of the body is read: memory stays at one chunk.
        while (pendingBytes >= CHUNK_BYTES) {
          const all = Buffer.concat(pending, pendingBytes);
          pending = [all.subarray(CHUNK_BYTES)];
          pendingBytes = all.length - CHUNK_BYTES;
          await this.models.chunks.create({ _id: `${id}:${n}`, importId: id, n, data: all.subarray(0, CHUNK_BYTES) });
          n++;
          await this.models.imports.updateOne({ _id: id }, { $set: { leaseUntil: this.leaseEnd() } }).exec();
        }
      }
      await flush();
      const columns = header.end();
      if (!columns) throw new AppError('BAD_REQUEST', 'The file is empty');
      const planned = planColumns(columns, mapping);
      if ('missing' in planned)
        throw new AppError('BAD_REQUEST', 'The mapping names columns the file does not have', {
          fields: planned.missing.map((column) => ({
            field: `mapping.${column}`,
            message: 'no such column in the header',
          })),
        });
    } catch (error) {
      await this.discard(id);
      throw error;
    }
    const stored = await this.models.imports
      .findOneAndUpdate(
        { _id: id },
        { $set: { uploaded: true, bytes, chunkCount: n, leaseOwner: null, leaseUntil: null } },
        { returnDocument: 'after' },
      )
      .lean<ImportDoc>()
      .exec();
    if (!stored) throw notFound('Import');
    this.onQueued();
    return toLeadImport(stored);
  }

  async get(projectId: string, importId: string): Promise<LeadImport> {
    return toLeadImport(await this.doc(projectId, importId));
  }

  /** The row errors in line order, streamed. */
  async errors(projectId: string, importId: string) {
    await this.doc(projectId, importId);
    return this.models.errors.find({ importId }).sort({ line: 1 }).lean<ImportErrorDoc>().cursor();
  }

  private async doc(projectId: string, importId: string): Promise<ImportDoc> {
    const doc = await this.models.imports.findOne({ _id: importId, projectId }).lean<ImportDoc>().exec();
    if (!doc) throw notFound('Import');
    return doc;
  }

  /** A refused upload leaves nothing behind. */
  private async discard(id: string): Promise<void> {
    await this.models.chunks.deleteMany({ importId: id }).exec();
    await this.models.imports.deleteOne({ _id: id }).exec();
  }

  private leaseEnd(): Date {
    return new Date(this.clock.date().getTime() + this.timing.leaseMs);
  }
}

/** Parses the start of an upload until its header record is whole. */
class HeaderCheck {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly parser: CsvParser;
  private header: string[] | undefined;
  private failed = false;

  constructor(delimiter: ',' | ';' | undefined) {
    this.parser = new CsvParser(delimiter, IMPORT_LIMITS.fieldCharsMax);
  }

  push(piece: Buffer): void {
    if (this.header || this.failed) return;
    this.take(() => this.parser.push(this.decoder.decode(piece, { stream: true })));
  }

  end(): string[] | undefined {
    if (!this.header && !this.failed)
      this.take(() => [...this.parser.push(this.decoder.decode()), ...this.parser.end()]);
    return this.header;
  }

  private take(step: () => { fields: string[] }[]): void {
    try {
      const first = step()[0];
      if (first) this.header = first.fields;
    } catch (error) {
      // A broken header is reported by the job, with its line: the upload itself is fine.
      if (!(error instanceof CsvError)) throw error;
      this.failed = true;
    }
  }
}

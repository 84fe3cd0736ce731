import { TextDecoder } from 'node:util';
import { randomUUID } from 'node:crypto';
import { IMPORT_LIMITS, type ImportCounts } from '@parley/protocol';
import { AppError, isDuplicateKeyError } from '../errors';
import type { Clock } from '../infra/clock';
import type { EventBus } from '../infra/event-bus';
import { newId } from '../infra/ids';
import type { Logger } from '../infra/logger';
import { CsvError, CsvParser, type CsvRecord } from './csv-parser';
import type { ImportDoc, ImportErrorDoc, ImportModels } from './import-model';
import { planColumns, readRow, type ColumnPlan, type ImportRow } from './import-row';
import { toLeadImport } from './import-view';
import type { ImportWriter } from './import-writer';

/** Unexpected errors (not a broken file) a job survives before it is failed rather than retried again. */
export const IMPORT_MAX_ATTEMPTS = 5;

/**
 * Rows written under one hold of the project's contacts lock (see ImportWriter.inLock), with a few
 * statements for the whole slice (see ImportWriter.writeSlice): a merge waits for one slice at most.
 */
export const IMPORT_SLICE_ROWS = 500;

/** Rows between checkpoints: one job update, one `lead.import.progress` push, one lease renewal. */
export const IMPORT_BATCH_ROWS = 500;

export interface ImportTiming {
  leaseMs: number;
  pollMs: number;
}

/** This node gave the job up (stopping) or lost its lease (it was too slow; another node has it). */
class Interrupted extends Error {}

/** The job cannot go on: a broken file. Recorded as the job's `failure`. */
class JobFailure extends Error {}

/**
 * Runs imports, one at a time per node, on every node. A job is claimed with a lease (one atomic
 * update), renewed at every checkpoint; a node that dies leaves the lease to expire and the next
 * poll of any node takes the job over and continues from its last checkpoint, parsing the stored
 * file again and skipping the rows already done. The rows of the batch that was cut are written
 * again, which the writer's upserts make harmless (they count as `skipped` the second time).
 */
export class ImportRunner {
  private readonly nodeId = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  private again = false;

  constructor(
    private readonly models: ImportModels,
    private readonly writer: ImportWriter,
    private readonly bus: EventBus,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly timing: ImportTiming,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.wake(), this.timing.pollMs);
    this.timer.unref();
    this.wake();
  }

  /** Looks for work now (a job was just uploaded on this node). */
  wake(): void {
    if (this.stopping) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((error: unknown) => this.logger.error({ err: error }, 'import runner failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopping) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Stops between two rows and hands the job back (its lease freed), so another node takes it at once. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.stopping) return;
      const job = await this.claim();
      if (!job) return;
      await this.run(job);
    }
  }

  private async claim(): Promise<ImportDoc | undefined> {
    const now = this.clock.date();
    const expired = { $or: [{ leaseUntil: null }, { leaseUntil: { $lt: now } }] };
    // An upload holds its job's lease while it streams; one whose node died never finished.
    await this.models.imports
      .updateMany(
        { status: 'queued', uploaded: false, leaseUntil: { $lt: now } },
        { $set: { status: 'failed', failure: 'the upload was cut before the file was complete', finishedAt: now } },
      )
      .exec();
    const job = await this.models.imports
      .findOneAndUpdate(
        { status: { $in: ['queued', 'running'] }, uploaded: true, ...expired },
        {
          $set: {
            status: 'running',
            leaseOwner: this.nodeId,
            leaseUntil: new Date(now.getTime() + this.timing.leaseMs),
          },
        },
        { sort: { createdAt: 1 }, returnDocument: 'after' },
      )
      .lean<ImportDoc>()
      .exec();
    if (!job) return undefined;
    if (!job.startedAt) {
      await this.models.imports.updateOne({ _id: job._id, startedAt: null }, { $set: { startedAt: now } }).exec();
      job.startedAt = now;
    }
    return job;
  }

  private async run(job: ImportDoc): Promise<void> {
    try {
      await this.process(job);
    } catch (error) {
      if (error instanceof Interrupted) {
        await this.release(job);
        return;
      }
      if (error instanceof JobFailure) {
        await this.finish(job, 'failed', error.message);
        return;
      }
      // A database outage or a bug: the job is taken up again by a later poll, a few times.
      const attempts = (job.attempts ?? 0) + 1;
      if (attempts >= IMPORT_MAX_ATTEMPTS) {
        this.logger.error({ err: error, importId: job._id }, 'import failed by errors; giving up');
        await this.finish(job, 'failed', 'the import kept failing with an internal error').catch(() => undefined);
        return;
      }
      this.logger.error(
        { err: error, importId: job._id, attempts },
        'import interrupted by an error; it will be retried',
      );
      await this.models.imports
        .updateOne(
          { _id: job._id, leaseOwner: this.nodeId },
          { $set: { leaseOwner: null, leaseUntil: null, attempts } },
        )
        .exec()
        .catch(() => undefined);
    }
  }

  private async process(job: ImportDoc): Promise<void> {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const parser = new CsvParser(job.delimiter ?? undefined, IMPORT_LIMITS.fieldCharsMax);
    const state = {
      plan: undefined as ColumnPlan[] | undefined,
      rowIndex: 0,
      sinceCheckpoint: 0,
      checkpointedAt: Date.now(),
      chunksRead: job.chunksRead,
      counts: { ...job.counts },
      errorCount: job.errorCount,
      errors: [] as ImportErrorDoc[],
      slice: [] as CsvRecord[],
    };
    /** Writes the rows read so far (a slice); the checkpoint comes only after, so it never counts unwritten rows. */
    const flush = async () => {
      const plan = state.plan;
      if (state.slice.length === 0 || !plan) return;
      const rows = state.slice;
      state.slice = [];
      await this.handleRows(job, rows, plan, state);
      state.sinceCheckpoint += rows.length;
      // By rows, and by time too: slow rows (a loaded database) must not let the lease run out.
      const due = Date.now() - state.checkpointedAt > this.timing.leaseMs / 3;
      if (state.sinceCheckpoint >= IMPORT_BATCH_ROWS || due) {
        await this.checkpoint(job, state, parser);
        state.sinceCheckpoint = 0;
        state.checkpointedAt = Date.now();
      }
    };
    const handle = async (record: CsvRecord) => {
      if (this.stopping) throw new Interrupted();
      if (!state.plan) {
        const planned = planColumns(record.fields, job.mapping);
        if ('missing' in planned)
          throw new JobFailure(`the header has no column named ${planned.missing.map((c) => `"${c}"`).join(', ')}`);
        state.plan = planned.plan;
        return;
      }
      state.rowIndex++;
      if (state.rowIndex <= job.rowsDone) return;
      state.slice.push(record);
      if (state.slice.length >= IMPORT_SLICE_ROWS) await flush();
    };
    // Two chunks a round trip: the driver's default batch (101 documents) would hold 25 MB of file.
    const cursor = this.models.chunks.find({ importId: job._id }).sort({ n: 1 }).batchSize(2).lean().cursor();
    try {
      for await (const chunk of cursor) {
        state.chunksRead = Math.max(state.chunksRead, chunk.n + 1);
        const records = this.parse(() => parser.push(this.decode(decoder, chunk.data)));
        for (const record of records) await handle(record);
      }
    } finally {
      await cursor.close().catch(() => undefined);
    }
    const tail = this.parse(() => [...parser.push(this.decode(decoder)), ...parser.end()]);
    for (const record of tail) await handle(record);
    await flush();
    if (!state.plan) throw new JobFailure('the file is empty');
    await this.checkpoint(job, state, parser);
    await this.finish({ ...job, counts: state.counts, errorCount: state.errorCount }, 'completed', null);
  }

  private decode(decoder: TextDecoder, data?: Buffer | { buffer: Buffer }): string {
    try {
      if (!data) return decoder.decode();
      const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer);
      return decoder.decode(bytes, { stream: true });
    } catch {
      throw new JobFailure('the file is not UTF-8 text');
    }
  }

  private parse(step: () => CsvRecord[]): CsvRecord[] {
    try {
      return step();
    } catch (error) {
      if (error instanceof CsvError) throw new JobFailure(`line ${error.line}: ${error.message}`);
      throw error;
    }
  }

  /** Writes a slice (or, for a dry run, works out what writing it would do) and counts each row. */
  private async handleRows(
    job: ImportDoc,
    records: CsvRecord[],
    plan: ColumnPlan[],
    state: { counts: ImportCounts; errorCount: number; errors: ImportErrorDoc[] },
  ): Promise<void> {
    const issues = new Map<number, { column: string; message: string }>();
    const rows: ImportRow[] = [];
    const rowOf: number[] = [];
    records.forEach((record, index) => {
      const read = readRow(record.fields, record.line, plan, job.matchKey);
      if ('issues' in read) {
        issues.set(index, {
          column: read.issues.map((i) => i.column).join(', '),
          message: read.issues.map((i) => `${i.column}: ${i.message}`).join('; '),
        });
      } else {
        rowOf[index] = rows.length;
        rows.push(read.row);
      }
    });
    const results = job.dryRun
      ? await this.writer.previewSlice(job.projectId, job.matchKey, rows)
      : await this.writer.inLock(job.projectId, (joins) =>
          this.writer.writeSlice(job.projectId, job._id, job.matchKey, rows, joins),
        );
    records.forEach((record, index) => {
      const result = issues.has(index) ? undefined : results[rowOf[index] as number];
      if (result?.outcome) {
        state.counts[result.outcome]++;
        return;
      }
      state.counts.failed++;
      const issue = issues.get(index) ?? (result?.error ? rowIssue(result.error) : undefined);
      if (issue && state.errorCount < IMPORT_LIMITS.errorsMax) {
        state.errorCount++;
        state.errors.push({ _id: newId(), importId: job._id, line: record.line, ...issue });
      }
    });
  }

  /** Records the batch: its row errors, then counts and position with the lease renewed, then one push. */
  private async checkpoint(
    job: ImportDoc,
    state: { rowIndex: number; chunksRead: number; counts: ImportCounts; errorCount: number; errors: ImportErrorDoc[] },
    parser: CsvParser,
  ): Promise<void> {
    if (state.errors.length > 0) {
      try {
        await this.models.errors.insertMany(state.errors, { ordered: false });
      } catch (error) {
        // Errors of rows a dead node had recorded before it could checkpoint them: already there.
        if (!isDuplicateKeyError(error)) throw error;
      }
      state.errors = [];
    }
    const now = this.clock.date();
    const updated = await this.models.imports
      .findOneAndUpdate(
        { _id: job._id, leaseOwner: this.nodeId },
        {
          $set: {
            rowsDone: Math.max(state.rowIndex, job.rowsDone),
            chunksRead: state.chunksRead,
            counts: state.counts,
            errorCount: state.errorCount,
            delimiter: parser.separator ?? null,
            leaseUntil: new Date(now.getTime() + this.timing.leaseMs),
          },
        },
        { returnDocument: 'after' },
      )
      .lean<ImportDoc>()
      .exec();
    if (!updated) throw new Interrupted();
    await this.bus.publish('lead.import.progress', { import: toLeadImport(updated) });
  }

  private async finish(job: ImportDoc, status: 'completed' | 'failed', failure: string | null): Promise<void> {
    const done = await this.models.imports
      .findOneAndUpdate(
        { _id: job._id, leaseOwner: this.nodeId },
        {
          $set: {
            status,
            failure,
            finishedAt: this.clock.date(),
            leaseOwner: null,
            leaseUntil: null,
            ...(status === 'completed' ? { chunksRead: job.chunkCount } : {}),
          },
        },
        { returnDocument: 'after' },
      )
      .lean<ImportDoc>()
      .exec();
    if (!done) return;
    // The file is not needed any more: its row errors are kept apart for errors.csv.
    await this.models.chunks.deleteMany({ importId: job._id }).exec();
    await this.bus.publish('lead.import.completed', { import: toLeadImport(done) });
  }

  private async release(job: ImportDoc): Promise<void> {
    await this.models.imports
      .updateOne({ _id: job._id, leaseOwner: this.nodeId }, { $set: { leaseOwner: null, leaseUntil: null } })
      .exec();
  }
}

function rowIssue(error: AppError): { column: string; message: string } {
  const fields = error.details?.fields?.map((f) => `${f.field}: ${f.message}`).join('; ');
  return { column: '', message: fields ? `${error.message} (${fields})` : error.message };
}

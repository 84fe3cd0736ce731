import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import type { Logger } from '../infra/logger';

/** A CSV download: a header line, then a line per item of a database cursor. */
export interface CsvDownload<T> {
  /** The file name the browser saves it under. */
  filename: string;
  header: string;
  cursor: AsyncIterable<T> & { close(): Promise<unknown> };
  /** One item as a line, its `\r\n` included. */
  row: (item: T) => string;
  /** What the log names when the download fails part-way (`contacts export`). */
  what: string;
}

/**
 * Streams a CSV download. pipeline() waits for the socket to drain between rows (nothing is
 * buffered beyond one socket buffer) and, when the client goes away, ends the generator, which
 * closes the database cursor. A failure part-way cannot become an error response (the status and
 * part of the file are sent): it is logged and the connection cut, so the file is visibly broken.
 */
export async function streamCsv<T>(res: Response, logger: Logger, download: CsvDownload<T>): Promise<void> {
  const { cursor } = download;
  res.status(200);
  res.setHeader('Content-Type', 'text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="${download.filename}"`);
  res.setHeader('Cache-Control', 'no-store');
  async function* rows() {
    try {
      yield download.header;
      for await (const item of cursor) yield download.row(item);
    } finally {
      await cursor.close().catch(() => undefined);
    }
  }
  try {
    await pipeline(Readable.from(rows()), res);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    logger.error({ err: error }, `${download.what} failed part-way`);
    res.destroy();
  }
}

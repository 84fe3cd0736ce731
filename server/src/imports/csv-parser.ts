/**
 * A streaming RFC 4180 CSV parser: text goes in piece by piece (any split, even inside a quoted
 * field or between CR and LF) and whole records come out, so a file of any size is read in the
 * memory of one record. Quoted fields hold separators, quotes (doubled) and line breaks; records
 * end with LF or CRLF; the separator is `,` or `;`, given or detected from the header line. The
 * UTF-8 BOM is the decoder's business (TextDecoder drops it).
 */
export interface CsvRecord {
  fields: string[];
  /** The file line the record starts on (1-based): what a person finds in an editor. */
  line: number;
}

export class CsvError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

export type Delimiter = ',' | ';';

export class CsvParser {
  private delimiter: Delimiter | undefined;
  private field = '';
  private fields: string[] = [];
  private inQuotes = false;
  /** A quote inside a quoted field: either the closing one or the first of a doubled pair. */
  private quotePending = false;
  /** The previous piece ended with CR (outside quotes): an LF starting the next piece belongs to it. */
  private crPending = false;
  private line = 1;
  private recordLine = 1;
  /** Before the separator is known: the text of the header line so far (auto-detection). */
  private pendingHeader = '';
  private recordHasContent = false;

  constructor(
    delimiter: Delimiter | undefined,
    private readonly maxFieldChars: number,
  ) {
    this.delimiter = delimiter;
  }

  get separator(): Delimiter | undefined {
    return this.delimiter;
  }

  /** Records completed by this piece of text. */
  push(text: string): CsvRecord[] {
    if (this.delimiter) return this.scan(text);
    // Auto: hold text until the first line break outside quotes (or the end), then count.
    this.pendingHeader += text;
    const end = headerEnd(this.pendingHeader);
    if (end < 0) {
      if (this.pendingHeader.length > this.maxFieldChars * 10) this.delimiter = ',';
      else return [];
    } else {
      this.delimiter = detect(this.pendingHeader.slice(0, end));
    }
    const held = this.pendingHeader;
    this.pendingHeader = '';
    return this.scan(held);
  }

  /** The last record, when the text did not end with a line break. */
  end(): CsvRecord[] {
    const out: CsvRecord[] = [];
    if (!this.delimiter) {
      this.delimiter = detect(this.pendingHeader);
      out.push(...this.scan(this.pendingHeader));
      this.pendingHeader = '';
    }
    if (this.inQuotes && !this.quotePending) throw new CsvError('a quoted field is not closed', this.recordLine);
    this.inQuotes = false;
    this.quotePending = false;
    if (this.recordHasContent || this.fields.length > 0 || this.field !== '') out.push(this.finishRecord());
    return out;
  }

  private scan(text: string): CsvRecord[] {
    const out: CsvRecord[] = [];
    const sep = this.delimiter ?? ',';
    for (let i = 0; i < text.length; i++) {
      const c = text[i] as string;
      if (this.crPending) {
        this.crPending = false;
        if (c === '\n') continue;
      }
      if (this.inQuotes) {
        if (this.quotePending) {
          this.quotePending = false;
          if (c === '"') {
            this.append('"');
            continue;
          }
          this.inQuotes = false;
          // Falls through: the character after the closing quote is read as outside quotes.
        } else {
          if (c === '"') this.quotePending = true;
          else {
            if (c === '\n') this.line++;
            else if (c === '\r' && i + 1 < text.length && text[i + 1] !== '\n') this.line++;
            this.append(c);
          }
          continue;
        }
      }
      if (c === sep) {
        this.fields.push(this.field);
        this.field = '';
        this.recordHasContent = true;
      } else if (c === '\n' || c === '\r') {
        if (c === '\r') {
          if (i + 1 < text.length) {
            if (text[i + 1] === '\n') i++;
          } else this.crPending = true;
        }
        if (this.recordHasContent || this.field !== '') out.push(this.finishRecord());
        this.line++;
        this.recordLine = this.line;
      } else if (c === '"' && this.field === '' && !this.fieldQuotedBefore) {
        this.inQuotes = true;
        this.fieldQuotedBefore = true;
        this.recordHasContent = true;
      } else {
        // A quote inside an unquoted field is taken as it is (lenient, as spreadsheets write it).
        this.append(c);
        this.recordHasContent = true;
      }
      if (c === sep) this.fieldQuotedBefore = false;
    }
    return out;
  }

  private fieldQuotedBefore = false;

  private append(c: string): void {
    if (this.field.length >= this.maxFieldChars)
      throw new CsvError(`a field is longer than ${this.maxFieldChars} characters`, this.recordLine);
    this.field += c;
  }

  private finishRecord(): CsvRecord {
    this.fields.push(this.field);
    const record = { fields: this.fields, line: this.recordLine };
    this.fields = [];
    this.field = '';
    this.recordHasContent = false;
    this.fieldQuotedBefore = false;
    return record;
  }
}

/** Index of the first line break outside quotes, or -1. */
function headerEnd(text: string): number {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === '\n' || c === '\r')) return i;
  }
  return -1;
}

/** `;` when the header line holds more of them (outside quotes) than commas: Excel's CSV in many locales. */
function detect(header: string): Delimiter {
  let commas = 0;
  let semicolons = 0;
  let quoted = false;
  for (const c of header) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === ',') commas++;
    else if (!quoted && c === ';') semicolons++;
  }
  return semicolons > commas ? ';' : ',';
}

import { BSONRegExp } from 'bson';
import { badValue, MongoCommandError, notSupported } from '../errors';
import { InvalidRegex, translatePcre, UntranslatableRegex } from './pcre';

/**
 * A JavaScript RegExp running a PCRE pattern (see pcre.ts), which remembers the pattern and
 * options it was given: those are the regex as a value (what `$eq: /x/` compares, what a stored
 * regex is compared with), not the translation.
 */
export class PcreRegExp extends RegExp {
  constructor(
    source: string,
    flags: string,
    readonly pattern: string,
    readonly options: string,
  ) {
    super(source, flags);
  }
}

/**
 * A JavaScript RegExp with PCRE's meaning, or a clear refusal. MongoDB's options `i`, `m`, `s`
 * have PCRE's meaning (see pcre.ts); `x` (extended) and `l` (locale) have no equivalent.
 */
export function toRegExp(pattern: unknown, options = ''): RegExp {
  if (pattern instanceof PcreRegExp && options === '') return pattern;
  let source: string;
  let flags = options;
  if (pattern instanceof PcreRegExp) {
    source = pattern.pattern;
    flags = `${pattern.options}${options}`;
  } else if (pattern instanceof RegExp) {
    source = pattern.source;
    flags = `${pattern.flags}${options}`;
  } else if (pattern instanceof BSONRegExp) {
    source = pattern.pattern;
    flags = `${pattern.options}${options}`;
  } else if (typeof pattern === 'string') {
    source = pattern;
  } else {
    throw badValue('$regex has to be a string');
  }
  const set = new Set<string>();
  for (const flag of flags) {
    if (flag === 'i' || flag === 'm' || flag === 's') set.add(flag);
    else if (flag === 'u' || flag === 'g' || flag === 'y') continue;
    else if (flag === 'x' || flag === 'l') throw notSupported(`the regular expression option '${flag}'`);
    else throw badValue(`invalid flag in regex options: ${flag}`);
  }
  let translated: { source: string; inlineFlags: string };
  try {
    translated = translatePcre(source, { multiline: set.has('m'), dotAll: set.has('s'), ignoreCase: set.has('i') });
  } catch (error) {
    if (error instanceof UntranslatableRegex) {
      throw notSupported(`the regular expression /${source}/ (${error.message})`);
    }
    if (error instanceof InvalidRegex) throw invalid(error.message);
    throw error;
  }
  const ignoreCase = set.has('i') || translated.inlineFlags.includes('i');
  try {
    return new PcreRegExp(translated.source, ignoreCase ? 'iu' : 'u', source, [...set].sort().join(''));
  } catch (error) {
    throw invalid(error instanceof Error ? error.message : String(error));
  }
}

function invalid(reason: string): MongoCommandError {
  return new MongoCommandError('Location51091', `Regular expression is invalid: ${reason}`);
}

export function isRegex(value: unknown): value is RegExp | BSONRegExp {
  return value instanceof RegExp || value instanceof BSONRegExp;
}

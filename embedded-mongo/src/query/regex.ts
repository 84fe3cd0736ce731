import { BSONRegExp } from 'bson';
import { badValue, notSupported } from '../errors';

/** Escapes meaning the same in PCRE (MongoDB's engine) and in a JavaScript RegExp without `u`. */
const PORTABLE_ESCAPE = /\\(?:[^A-Za-z0-9]|[dDwWsSbBnrtfv]|[1-9]|0(?![0-9])|x[0-9A-Fa-f]{2}|c[A-Za-z])/g;

/**
 * A JavaScript RegExp with PCRE's meaning, or a clear refusal. MongoDB's options `i`, `m`, `s` map
 * to the same flags; `x` (extended) and `l` (locale) have no equivalent. Patterns compile with
 * `u`, as PCRE runs in UTF-8 mode (so `.` is one code point and unknown escapes are errors rather
 * than literal letters); a pattern only valid without `u` is accepted when every escape in it means
 * the same in both engines.
 */
export function toRegExp(pattern: unknown, options = ''): RegExp {
  let source: string;
  let flags = options;
  if (pattern instanceof RegExp) {
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
  const jsFlags = new Set<string>();
  for (const flag of flags) {
    if (flag === 'i' || flag === 'm' || flag === 's') jsFlags.add(flag);
    else if (flag === 'u' || flag === 'g' || flag === 'y') continue;
    else if (flag === 'x' || flag === 'l') throw notSupported(`the regular expression option '${flag}'`);
    else throw badValue(`invalid flag in regex options: ${flag}`);
  }
  const base = [...jsFlags].sort().join('');
  try {
    return new RegExp(source, `${base}u`);
  } catch {
    // fall through: maybe valid without `u` (e.g. `\-` outside a class)
  }
  const unportable = source.replace(PORTABLE_ESCAPE, '').includes('\\');
  if (unportable) throw notSupported(`the regular expression /${source}/ (an escape PCRE reads differently)`);
  try {
    return new RegExp(source, base);
  } catch (error) {
    throw badValue(`Regular expression is invalid: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export function isRegex(value: unknown): value is RegExp | BSONRegExp {
  return value instanceof RegExp || value instanceof BSONRegExp;
}

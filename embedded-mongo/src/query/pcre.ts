/**
 * PCRE (MongoDB's regular expression engine, in UTF-8 mode without Unicode properties for `\d`,
 * `\s`, `\w`) translated to a JavaScript pattern for the `u` flag, construct by construct, so that
 * it matches exactly the same strings, or a refusal naming the construct that has no exact
 * translation. The `m` flag is never given to JavaScript: `^` and `$` are rewritten to PCRE's
 * meaning (only `\n` is a newline; `$` also matches before a final newline; in multiline mode `^`
 * does not match after a final newline), and so is `.` (everything but `\n`).
 */

/** A construct without an exact JavaScript equivalent: becomes a CommandNotSupported refusal. */
export class UntranslatableRegex extends Error {}
/** A pattern PCRE itself rejects: becomes MongoDB's "Regular expression is invalid" error. */
export class InvalidRegex extends Error {}

const SYNTAX = new Set('^$\\.*+?()[]{}|/'.split(''));

/** PCRE's POSIX classes, which are ASCII-only in its default (non-UCP) mode. */
const POSIX: Record<string, string> = {
  alnum: 'A-Za-z0-9',
  alpha: 'A-Za-z',
  ascii: '\\u{0}-\\u{7f}',
  blank: '\\t ',
  cntrl: '\\u{0}-\\u{1f}\\u{7f}',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`\\{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: 'A-Za-z0-9_',
  xdigit: '0-9A-Fa-f',
};

/** PCRE's `\s` (no Unicode spaces), `\h` and `\v` (vertical space, not the VT character). */
const SPACE = '\\t\\n\\v\\f\\r ';
const HSPACE = '\\t \\u{a0}\\u{1680}\\u{180e}\\u{2000}-\\u{200a}\\u{202f}\\u{205f}\\u{3000}';
const VSPACE = '\\n\\v\\f\\r\\u{85}\\u{2028}\\u{2029}';

const codePoint = (n: number) => `\\u{${n.toString(16)}}`;

/** A literal character, escaped if JavaScript would read it as syntax. */
function literal(char: string): string {
  return SYNTAX.has(char) ? `\\${char}` : char;
}

export interface Translated {
  source: string;
  /** Flags set by a leading `(?i)`-style group, added to the options. */
  inlineFlags: string;
}

export function translatePcre(
  pattern: string,
  options: { multiline: boolean; dotAll: boolean; ignoreCase: boolean },
): Translated {
  return new Translator(pattern, options).run();
}

class Translator {
  private i = 0;
  private out = '';
  private inlineFlags = '';

  constructor(
    private readonly p: string,
    private options: { multiline: boolean; dotAll: boolean; ignoreCase: boolean },
  ) {}

  run(): Translated {
    this.leadingFlags();
    while (this.i < this.p.length) this.atom();
    return { source: this.out, inlineFlags: this.inlineFlags };
  }

  /** `(?i)`, `(?ms)`… at the very start mean the same as options; anywhere else they are refused. */
  private leadingFlags(): void {
    const at = () => /^\(\?([a-zA-Z^-]+)\)/.exec(this.p.slice(this.i));
    for (let match = at(); match; match = at()) {
      const flags = match[1] as string;
      if (!/^[ims]+$/.test(flags)) throw new UntranslatableRegex(`the inline option setting ${match[0]}`);
      this.inlineFlags += flags;
      if (flags.includes('i')) this.options = { ...this.options, ignoreCase: true };
      if (flags.includes('m')) this.options = { ...this.options, multiline: true };
      if (flags.includes('s')) this.options = { ...this.options, dotAll: true };
      this.i += match[0].length;
    }
  }

  private peek(offset = 0): string | undefined {
    return this.p[this.i + offset];
  }

  private atom(): void {
    const c = this.p[this.i] as string;
    switch (c) {
      case '\\':
        this.escape(false);
        return;
      case '[':
        this.characterClass();
        return;
      case '(':
        this.group();
        return;
      case '.':
        this.out += this.options.dotAll ? '[^]' : '[^\\n]';
        break;
      case '^':
        this.out += this.options.multiline ? '(?:^|(?<=\\n)(?!$))' : '^';
        break;
      case '$':
        this.out += this.options.multiline ? '(?=\\n|$)' : '(?=\\n?$)';
        break;
      case '*':
      case '+':
      case '?':
        this.out += c;
        this.i++;
        this.quantifierSuffix();
        return;
      case '{': {
        const quantifier = /^\{\d+(?:,\d*)?\}/.exec(this.p.slice(this.i))?.[0];
        if (quantifier) {
          this.out += quantifier;
          this.i += quantifier.length;
          this.quantifierSuffix();
          return;
        }
        if (/^\{\s*,/.test(this.p.slice(this.i)) || /^\{\s*\d+\s*(?:,\s*\d*\s*)?\}/.test(this.p.slice(this.i))) {
          // PCRE versions disagree on `{,n}` and on spaces inside braces.
          throw new UntranslatableRegex('a {,n} quantifier or a quantifier with spaces');
        }
        this.out += '\\{'; // not a quantifier: PCRE reads a literal brace
        break;
      }
      case '}':
      case ']':
        this.out += `\\${c}`;
        break;
      default: {
        const char = String.fromCodePoint(this.p.codePointAt(this.i) as number);
        this.out += char;
        this.i += char.length;
        return;
      }
    }
    this.i++;
  }

  /** After a quantifier: `?` (lazy) is the same in both; `+` (possessive) has no JavaScript form. */
  private quantifierSuffix(): void {
    if (this.peek() === '?') {
      this.out += '?';
      this.i++;
    } else if (this.peek() === '+') {
      throw new UntranslatableRegex('possessive quantifiers (*+, ++, ?+, {n}+)');
    }
  }

  private group(): void {
    const rest = this.p.slice(this.i);
    if (rest.startsWith('(*')) throw new UntranslatableRegex('PCRE verbs such as (*UTF) or (*SKIP)');
    if (!rest.startsWith('(?')) {
      this.out += '(';
      this.i++;
      return;
    }
    const simple = /^\(\?(?::|=|!|<=|<!)/.exec(rest)?.[0];
    if (simple) {
      this.out += simple;
      this.i += simple.length;
      return;
    }
    const named = /^\(\?(?:P?<|')([A-Za-z_][A-Za-z0-9_]*)[>']/.exec(rest);
    if (named) {
      this.out += `(?<${named[1]}>`;
      this.i += named[0].length;
      return;
    }
    const backreference = /^\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/.exec(rest);
    if (backreference) {
      this.out += `\\k<${backreference[1]}>`;
      this.i += backreference[0].length;
      return;
    }
    if (rest.startsWith('(?#')) {
      const end = rest.indexOf(')');
      if (end < 0) throw new InvalidRegex('missing ) after (?# comment');
      this.i += end + 1; // a comment matches nothing
      return;
    }
    const kind = rest[2];
    if (kind === '>') throw new UntranslatableRegex('atomic groups (?>…)');
    if (kind === '|') throw new UntranslatableRegex('branch reset groups (?|…)');
    if (kind === '(') throw new UntranslatableRegex('conditional groups (?(…)…)');
    if (kind === 'C') throw new UntranslatableRegex('callouts (?C…)');
    if ((kind !== undefined && /[R0-9+&]/.test(kind)) || /^\(\?-\d/.test(rest) || rest.startsWith('(?P>')) {
      throw new UntranslatableRegex('recursion and subroutine calls such as (?R) or (?1)');
    }
    if (kind !== undefined && /[a-zA-Z^-]/.test(kind)) {
      throw new UntranslatableRegex(
        'inline option settings such as (?i) or (?s:…) other than at the very start of the pattern (use $options)',
      );
    }
    throw new InvalidRegex(`unrecognized character after (? at offset ${this.i}`);
  }

  /** A backslash sequence, outside a character class or (`inClass`) inside one. */
  private escape(inClass: boolean): void {
    const next = this.p.codePointAt(this.i + 1);
    if (next === undefined) throw new InvalidRegex('\\ at end of pattern');
    const c = String.fromCodePoint(next);
    this.i += 1 + c.length;
    if (!/[A-Za-z0-9]/.test(c)) {
      this.out += inClass ? (']\\^-['.includes(c) ? `\\${c}` : c) : literal(c);
      return;
    }
    switch (c) {
      case 'd':
      case 'D':
      case 'w':
      case 'W':
      case 'n':
      case 'r':
      case 't':
      case 'f':
        this.out += `\\${c}`;
        return;
      case 's':
        this.out += inClass ? SPACE : `[${SPACE}]`;
        return;
      case 'h':
        this.out += inClass ? HSPACE : `[${HSPACE}]`;
        return;
      case 'v':
        this.out += inClass ? VSPACE : `[${VSPACE}]`;
        return;
      case 'S':
      case 'H':
      case 'V':
        if (inClass) throw new UntranslatableRegex(`\\${c} inside a character class`);
        this.out += `[^${c === 'S' ? SPACE : c === 'H' ? HSPACE : VSPACE}]`;
        return;
      case 'e':
        this.out += '\\u{1b}';
        return;
      case 'a':
        this.out += '\\u{7}';
        return;
      case '0': {
        const octal = /^[0-7]{0,2}/.exec(this.p.slice(this.i))?.[0] ?? '';
        this.i += octal.length;
        this.out += codePoint(parseInt(`0${octal}`, 8));
        return;
      }
      case 'o': {
        const octal = /^\{([0-7]+)\}/.exec(this.p.slice(this.i));
        if (!octal) throw new InvalidRegex('\\o must be followed by {octal digits}');
        this.i += octal[0].length;
        this.out += codePoint(parseInt(octal[1] as string, 8));
        return;
      }
      case 'x': {
        const braced = /^\{([0-9A-Fa-f]+)\}/.exec(this.p.slice(this.i));
        const bare = braced ? undefined : (/^[0-9A-Fa-f]{0,2}/.exec(this.p.slice(this.i))?.[0] ?? '');
        this.i += braced ? braced[0].length : (bare as string).length;
        const value = parseInt((braced ? braced[1] : bare) || '0', 16);
        if (value > 0x10ffff) throw new InvalidRegex('character code point value in \\x{} is too large');
        this.out += codePoint(value);
        return;
      }
      case 'c': {
        const target = this.p[this.i];
        if (target === undefined) throw new InvalidRegex('\\c at end of pattern');
        this.i++;
        this.out += codePoint(target.toUpperCase().charCodeAt(0) ^ 0x40);
        return;
      }
      case 'p':
      case 'P':
        this.property(c);
        return;
      case 'Q': {
        const end = this.p.indexOf('\\E', this.i);
        const text = this.p.slice(this.i, end < 0 ? undefined : end);
        this.i = end < 0 ? this.p.length : end + 2;
        for (const char of text) this.out += inClass ? (']\\^-['.includes(char) ? `\\${char}` : char) : literal(char);
        return;
      }
      case 'E':
        return; // a \E without \Q is ignored
      case 'b':
        this.out += inClass ? '\\u{8}' : '\\b';
        return;
      case 'B':
      case 'A':
      case 'z':
      case 'Z':
      case 'G':
        if (inClass) throw new InvalidRegex(`escape sequence \\${c} is invalid in a character class`);
        if (c === 'B') this.out += '\\B';
        else if (c === 'A') this.out += '(?<![^])';
        else if (c === 'z') this.out += '(?![^])';
        else if (c === 'Z') this.out += '(?=\\n?(?![^]))';
        else throw new UntranslatableRegex('\\G');
        return;
      case 'N':
        if (inClass) throw new InvalidRegex('escape sequence \\N is invalid in a character class');
        if (this.p[this.i] === '{') throw new UntranslatableRegex('\\N{…}');
        this.out += '[^\\n]';
        return;
      case 'k': {
        const name = /^(?:<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)'|\{([A-Za-z_]\w*)\})/.exec(this.p.slice(this.i));
        if (!name || inClass) throw new InvalidRegex('\\k is not followed by a group name');
        this.i += name[0].length;
        this.out += `\\k<${name[1] ?? name[2] ?? name[3]}>`;
        return;
      }
      default:
        break;
    }
    if (/[1-9]/.test(c)) {
      if (inClass || /^[0-9]/.test(this.p.slice(this.i))) {
        throw new UntranslatableRegex('octal escapes and backreferences above \\9');
      }
      this.out += `\\${c}`;
      return;
    }
    if ('RXKgCL'.includes(c)) throw new UntranslatableRegex(`the escape \\${c}`);
    throw new InvalidRegex(`unrecognized escape sequence \\${c}`);
  }

  private property(c: 'p' | 'P'): void {
    if (this.options.ignoreCase) {
      // PCRE ignores case for properties (\p{Lu} matches only capitals); JavaScript does not.
      throw new UntranslatableRegex(`\\${c}{…} with the i option`);
    }
    const braced = /^\{(\^?)([A-Za-z_&]+)\}/.exec(this.p.slice(this.i));
    const single = braced ? undefined : /^[A-Za-z]/.exec(this.p.slice(this.i));
    if (!braced && !single) throw new InvalidRegex(`malformed \\${c} sequence`);
    this.i += (braced ?? single)?.[0].length ?? 0;
    const negated = (c === 'P') !== (braced?.[1] === '^');
    const name = braced ? (braced[2] as string) : (single?.[0] as string);
    const escape = negated ? 'P' : 'p';
    for (const candidate of [name, `Script=${name}`]) {
      try {
        new RegExp(`\\p{${candidate}}`, 'u');
        this.out += `\\${escape}{${candidate}}`;
        return;
      } catch {
        // not a name JavaScript knows in this form
      }
    }
    throw new UntranslatableRegex(`the Unicode property \\${c}{${name}}`);
  }

  private characterClass(): void {
    this.i++;
    this.out += '[';
    if (this.peek() === '^') {
      this.out += '^';
      this.i++;
    }
    // A `]` first is a literal in PCRE.
    if (this.peek() === ']') {
      this.out += '\\]';
      this.i++;
    }
    let lastWasSet = false;
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw new InvalidRegex('missing terminating ] for character class');
      if (c === ']') {
        this.out += ']';
        this.i++;
        return;
      }
      if (c === '[') {
        const posix = /^\[:(\^?)([a-z]+):\]/.exec(this.p.slice(this.i));
        if (posix) {
          if (posix[1]) throw new UntranslatableRegex(`the negated POSIX class [:^${posix[2]}:]`);
          const range = POSIX[posix[2] as string];
          if (!range) throw new InvalidRegex(`unknown POSIX class name ${posix[2]}`);
          this.out += range;
          this.i += posix[0].length;
          lastWasSet = true;
          continue;
        }
        if (/^\[[.=]/.test(this.p.slice(this.i))) throw new InvalidRegex('POSIX collating elements are not supported');
        this.out += '\\[';
        this.i++;
        lastWasSet = false;
        continue;
      }
      if (c === '-') {
        // PCRE reads a hyphen next to a class escape (`[\d-z]`) as a literal; JavaScript rejects it.
        const nextIsSet = /^-(?:\\[dDwWsShv]|\\[pP]|\[:)/.test(this.p.slice(this.i));
        this.out += lastWasSet || nextIsSet ? '\\-' : '-';
        this.i++;
        lastWasSet = false;
        continue;
      }
      if (c === '\\') {
        const kind = this.p[this.i + 1] ?? '';
        this.escape(true);
        lastWasSet = /[dDwWsShvpP]/.test(kind);
        continue;
      }
      const char = String.fromCodePoint(this.p.codePointAt(this.i) as number);
      this.out += char;
      this.i += char.length;
      lastWasSet = false;
    }
  }
}

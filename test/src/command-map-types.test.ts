import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * The command map makes a wrong command name, input, ack or push payload a compile error on both
 * ends (the server's `command()`, the SDK's `call()` and socket). Each fixture under
 * `test/type-fixtures/fail/` must fail to compile with exactly the diagnostics its
 * `// expect-error TS<code>: <text>` comments announce, on the line under each comment; the
 * fixtures under `pass/` must compile, which shows the failures come from the mistakes and not
 * from the fixtures' setup. They are checked against the built server and SDK (`dist/`).
 */
const FIXTURES = path.resolve(__dirname, '..', 'type-fixtures');
const EXPECT = /\/\/ expect-error TS(\d+): (.+)$/;

interface Expected {
  line: number;
  code: number;
  text: string;
}
interface Found {
  line: number;
  code: number;
  message: string;
}

function fixtures(dir: 'fail' | 'pass'): string[] {
  return readdirSync(path.join(FIXTURES, dir))
    .filter((name) => name.endsWith('.ts'))
    .map((name) => path.join(FIXTURES, dir, name));
}

/** One program over every fixture (type-checking them one by one would reload the libraries each time). */
function compile(): ts.Program {
  const configPath = path.join(FIXTURES, 'tsconfig.json');
  const { config, error } = ts.readConfigFile(configPath, (file) => ts.sys.readFile(file));
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, FIXTURES, undefined, configPath);
  return ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
}

function expectations(file: string): Expected[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((text, index) => {
      const match = EXPECT.exec(text.trim());
      // The comment announces the error of the next line (lines counted from 1).
      return match ? [{ line: index + 2, code: Number(match[1]), text: match[2] as string }] : [];
    });
}

function diagnostics(program: ts.Program, file: string): Found[] {
  const source = program.getSourceFile(file);
  if (!source) throw new Error(`${file} is not in the fixtures' program`);
  return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((d) => ({
    line: source.getLineAndCharacterOfPosition(d.start ?? 0).line + 1,
    code: d.code,
    message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
  }));
}

describe('command map types', () => {
  let program: ts.Program;
  beforeAll(() => {
    program = compile();
    // The whole check at once, here, with room for a slow machine (it loads socket.io's, zod's
    // and the server's declarations); the tests below then only read its results.
    program.getSemanticDiagnostics();
  }, 120_000);

  it('has fixtures of each kind on both ends', () => {
    const names = fixtures('fail').map((file) => path.basename(file, '.ts'));
    for (const end of ['server', 'sdk']) {
      for (const mistake of ['misspelled-command', 'wrong-payload', 'wrong-ack']) {
        expect(names).toContain(`${end}-${mistake}`);
      }
    }
    expect(fixtures('pass').length).toBeGreaterThan(0);
  });

  it.each(fixtures('pass').map((file) => [path.basename(file)]))('pass/%s compiles', (name) => {
    expect(diagnostics(program, path.join(FIXTURES, 'pass', name))).toEqual([]);
  });

  it.each(fixtures('fail').map((file) => [path.basename(file)]))('fail/%s fails with the expected errors', (name) => {
    const file = path.join(FIXTURES, 'fail', name);
    const expected = expectations(file);
    expect(expected.length).toBeGreaterThan(0);
    const found = diagnostics(program, file);
    // Every announced error, and nothing else: a fixture failing for another reason proves nothing.
    expect(found.map(({ line, code }) => ({ line, code }))).toEqual(expected.map(({ line, code }) => ({ line, code })));
    expected.forEach((e, i) => expect(found[i]?.message).toContain(e.text));
  });
});

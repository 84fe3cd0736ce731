import { createAgent, createProject } from './support/fixtures';
import { client } from './support/http';
import { startParley, type ParleyProcess } from './support/parley-process';

/** The raw cells of an RFC 4180 line, quotes kept, split on commas outside quotes. */
function rawCells(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (const char of line) {
    if (char === '"') quoted = !quoted;
    if (char === ',' && !quoted) {
      cells.push(cell);
      cell = '';
    } else cell += char;
  }
  cells.push(cell);
  return cells;
}

describe('the contacts CSV export', () => {
  let server: ParleyProcess;
  beforeAll(async () => {
    server = await startParley();
  });
  afterAll(async () => {
    await server.stop();
    server.cleanup();
  });

  it('quotes every cell and neutralizes formulas after any separator a spreadsheet may guess', async () => {
    const { project } = await createProject(server.url);
    const owner = await createAgent(server.url, project.id, 'owner');
    const asOwner = { token: owner.token };
    const api = client(server.url);
    const created = await api.post(`/v1/projects/${project.id}/leads`, {
      ...asOwner,
      body: {
        fullname: "x;=cmd|' /C calc'!A0",
        lastname: 'pipe|+1|@SUM(A1)',
        tags: ['plain', '-vip'],
        attributes: { note: 'a;=HYPERLINK("http://evil")' },
      },
    });
    expect([created.status, created.text]).toEqual([201, expect.any(String)]);

    const res = await api.get(`/v1/projects/${project.id}/leads/export.csv`, asOwner);
    expect(res.status).toBe(200);
    const [header, row, ...rest] = res.text.split('\r\n');
    expect(rest).toEqual(['']);
    expect(header?.startsWith('id,userId,')).toBe(true);
    const cells = rawCells(row ?? '');
    expect(cells).toHaveLength(13);
    for (const cell of cells) expect(cell).toMatch(/^".*"$/s);

    // Opened as a `;`-, tab- or `|`-delimited file, no piece may start a formula.
    for (const separator of [';', '\t', '|', ',']) {
      for (const piece of (row ?? '').split(separator)) {
        expect([separator, piece.replace(/^"/, '')]).not.toEqual([separator, expect.stringMatching(/^[=+\-@]/)]);
      }
    }
    expect(row).toContain(`"x;'=cmd|' /C calc'!A0"`);
    expect(row).toContain(`"pipe|'+1|'@SUM(A1)"`);
    expect(row).toContain(`"plain;'-vip"`);
  });
});

import type { Db } from 'mongodb';
import type {
  ActivityRecordResult,
  ConversationStartResult,
  ErrorResponse,
  LeadActivityEvent,
  LeadTimelinePage,
  LeadUpdateResult,
  LiveVisitorsResponse,
} from '@parley/protocol';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { startCluster, type Cluster } from './support/cluster';
import { TEST_ADMIN_TOKEN, type ParleyProcess } from './support/parley-process';
import {
  command,
  connectAgent,
  connectVisitor,
  EventLog,
  ok,
  wirePackets,
  type AgentClientSocket,
  type VisitorClientSocket,
} from './support/sockets';
import { waitFor } from './support/wait';

const CAP = 5;
const LIVE_TTL_MS = 1500;

/**
 * Visitor activity (issue 15) on three nodes sharing the database and Redis, with a small cap and a
 * short live-list TTL; C also has a small activity rate limit, and is killed at the end.
 */
describe('visitor activity', () => {
  let cluster: Cluster;
  let db: Db;
  let nodeA: ParleyProcess;
  let nodeB: ParleyProcess;
  let nodeC: ParleyProcess;
  let projectId: string;
  let agent: TestAgent;
  let owner: TestAgent;
  let listener: AgentClientSocket;
  let agentEvents: EventLog;
  const closers: (() => void)[] = [];

  beforeAll(async () => {
    cluster = await startCluster({
      nodes: 3,
      env: { ACTIVITY_MAX_PER_LEAD: String(CAP), LIVE_VISITOR_TTL: `${LIVE_TTL_MS}ms` },
      nodeEnv: (i): Record<string, string> => (i === 2 ? { RATE_LIMIT_ACTIVITY_PER_MINUTE: '5' } : {}),
    });
    [nodeA, nodeB, nodeC] = cluster.nodes as [ParleyProcess, ParleyProcess, ParleyProcess];
    db = cluster.db;
    projectId = (await createProject(nodeA.url)).project.id;
    [agent, owner] = await Promise.all([
      createAgent(nodeA.url, projectId, 'agent'),
      createAgent(nodeA.url, projectId, 'owner'),
    ]);
    listener = await connectAgent(nodeB.url, agent.token);
    agentEvents = new EventLog(listener);
  }, 90_000);

  afterEach(() => closers.splice(0).forEach((close) => close()));

  afterAll(async () => {
    listener?.close();
    await cluster?.stop();
  }, 30_000);

  async function visitor(
    node = nodeA,
    name?: string,
  ): Promise<{ userId: string; token: string; socket: VisitorClientSocket; leadId?: string }> {
    const auth = await anonymousVisitor(node.url, projectId);
    const socket = await connectVisitor(node.url, auth.token);
    closers.push(() => socket.close());
    if (!name) return { userId: auth.user.id, token: auth.token, socket };
    const { lead } = await ok<LeadUpdateResult>(socket, 'lead:update', { fullname: name });
    return { userId: auth.user.id, token: auth.token, socket, leadId: lead.id };
  }

  const page = (socket: VisitorClientSocket, path: string, title = path) =>
    ok<ActivityRecordResult>(socket, 'page:view', { url: `https://shop.example.com${path}`, title, referrer: '' });

  const live = async (node: ParleyProcess) => {
    const res = await client(node.url).get<LiveVisitorsResponse>(`/v1/projects/${projectId}/visitors/live`, {
      token: agent.token,
    });
    expect(res.status).toBe(200);
    return res.body;
  };

  const timeline = async (leadId: string, query = '', node = nodeA) => {
    const res = await client(node.url).get<LeadTimelinePage>(
      `/v1/projects/${projectId}/leads/${leadId}/timeline${query}`,
      { token: agent.token },
    );
    if (res.status !== 200) throw new Error(`timeline: ${res.status} ${res.text}`);
    return res.body;
  };

  const stored = (leadId: string) =>
    db.collection('leadactivities').find({ leadId }).sort({ createdAt: 1, _id: 1 }).toArray();

  test('page views and events are stored on the contact and pushed live to an agent on another node, never to the visitor', async () => {
    const v = await visitor(nodeA);
    const packets = wirePackets(v.socket);
    const viewed = await page(v.socket, '/pricing', 'Pricing');
    const pushed = await agentEvents.wait<LeadActivityEvent>(
      'lead.activity',
      (e) => e.activity.id === viewed.activityId,
    );
    expect(pushed.activity).toMatchObject({
      kind: 'page_view',
      url: 'https://shop.example.com/pricing',
      title: 'Pricing',
      userId: v.userId,
      projectId,
    });
    // Browsing does not make a visitor a contact: its activity waits under its user id.
    expect(pushed.activity.leadId).toBeUndefined();
    expect(await db.collection('leads').countDocuments({ userId: v.userId })).toBe(0);

    const tracked = await ok<ActivityRecordResult>(v.socket, 'event:track', {
      name: 'cart.add',
      props: { sku: 'A-1', qty: 2, gift: false, coupon: null },
      url: 'https://shop.example.com/pricing',
    });
    const event = await agentEvents.wait<LeadActivityEvent>(
      'lead.activity',
      (e) => e.activity.id === tracked.activityId,
    );
    expect(event.activity).toMatchObject({
      kind: 'event',
      name: 'cart.add',
      props: { sku: 'A-1', qty: 2, gift: false, coupon: null },
    });

    // The pre-chat form makes the contact: what the visitor did before joins it, and what it does
    // next is on it from the start.
    const { lead } = await ok<LeadUpdateResult>(v.socket, 'lead:update', { fullname: 'Browsing first' });
    await waitFor('the earlier activity on the new contact', async () => (await stored(lead.id)).length === 2);
    const after = await page(v.socket, '/after');
    expect(
      (await agentEvents.wait<LeadActivityEvent>('lead.activity', (e) => e.activity.id === after.activityId)).activity
        .leadId,
    ).toBe(lead.id);
    expect((await stored(lead.id)).map((d) => d['kind'])).toEqual(['page_view', 'event', 'page_view']);
    await ok(v.socket, 'conversation:list', {});
    expect(JSON.stringify(packets)).not.toContain('lead.activity');
  });

  test('past the cap the oldest are dropped', async () => {
    const v = await visitor(nodeB, 'Busy browser');
    for (let i = 0; i < CAP + 3; i++) await page(v.socket, `/p${i}`);
    const docs = await stored(v.leadId ?? '');
    expect(docs.map((d) => d['url'])).toEqual([3, 4, 5, 6, 7].map((i) => `https://shop.example.com/p${i}`));
  });

  test('bad input is refused with BAD_REQUEST and stores nothing', async () => {
    const v = await visitor(nodeA, 'Bad input');
    const bad: [string, unknown][] = [
      ['page:view', { url: 'javascript:alert(1)' }],
      ['page:view', { url: `https://example.com/${'x'.repeat(2048)}` }],
      ['page:view', { url: 'https://example.com/', title: 't'.repeat(501) }],
      ['page:view', { url: 'https://example.com/', extra: true }],
      ['page:view', {}],
      ['event:track', { name: '' }],
      ['event:track', { name: 'n'.repeat(101) }],
      ['event:track', { name: 'bad\nname' }],
      ['event:track', { name: 'many', props: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, i])) }],
      ['event:track', { name: 'big', props: { blob: 'x'.repeat(501) } }],
      ['event:track', { name: 'nested', props: { deep: { a: 1 } } }],
      ['event:track', { name: 'proto', props: { $where: 1 } }],
    ];
    for (const [name, payload] of bad) {
      const ack = await command(v.socket, name, payload);
      expect({ name, payload, ok: ack.ok, code: ack.ok ? undefined : ack.error.code }).toMatchObject({
        ok: false,
        code: 'BAD_REQUEST',
      });
    }
    expect(await stored(v.leadId ?? '')).toHaveLength(0);
  });

  test('rate-limited per visitor with RATE_LIMITED, across its tabs', async () => {
    const v = await visitor(nodeC, 'Flooder');
    const second = await connectVisitor(nodeC.url, v.token);
    closers.push(() => second.close());
    const acks = [];
    for (let i = 0; i < 7; i++)
      acks.push(await command(i % 2 ? second : v.socket, 'page:view', { url: `https://x.example/${i}` }));
    expect(acks.slice(0, 5).every((a) => a.ok)).toBe(true);
    const refused = acks[5];
    expect(refused?.ok).toBe(false);
    if (refused && !refused.ok) {
      expect(refused.error.code).toBe('RATE_LIMITED');
      expect(refused.error.details?.retryAfterMs).toBeGreaterThan(0);
    }
    expect(await stored(v.leadId ?? '')).toHaveLength(5);
  });

  test('lastSeenAt moves with activity, written at most once a minute whichever node sees it', async () => {
    const v = await visitor(nodeA, 'Seen');
    const lastSeen = async () =>
      (
        (await db.collection('leads').findOne({ _id: v.leadId as never }))?.['lastSeenAt'] as Date | undefined
      )?.getTime();
    // Connected before it had a contact: nothing was written then, so the first page view writes it.
    expect(await lastSeen()).toBeUndefined();
    const viewed = await page(v.socket, '/seen');
    const first = await lastSeen();
    expect(first).toBeDefined();
    expect(first).toBeLessThanOrEqual(Date.parse(viewed.createdAt));
    // Within the minute nothing more is written, from this node or another.
    const onB = await connectVisitor(nodeB.url, v.token);
    closers.push(() => onB.close());
    await page(onB, '/seen-again');
    await page(v.socket, '/and-again');
    expect(await lastSeen()).toBe(first);
  });

  test('live visitors: listed on every node once however many tabs; the last tab closing removes them', async () => {
    const v = await visitor(nodeA);
    const otherTab = await connectVisitor(nodeB.url, v.token);
    closers.push(() => otherTab.close());
    await page(otherTab, '/checkout', 'Checkout');
    const listed = await waitFor('the visitor listed from node B with both tabs', async () => {
      const found = (await live(nodeB)).items.filter((i) => i.userId === v.userId);
      return found.length === 1 && found[0]?.tabs === 2 ? found[0] : undefined;
    });
    expect(listed).toMatchObject({ url: 'https://shop.example.com/checkout', title: 'Checkout' });
    // Not a contact (it never filled in the form nor wrote): listed all the same, without a lead.
    expect(listed.leadId).toBeUndefined();
    expect(Date.parse(listed.since)).toBeLessThanOrEqual(Date.parse(listed.lastActiveAt));
    expect((await live(nodeA)).items.filter((i) => i.userId === v.userId)).toHaveLength(1);

    v.socket.close();
    await waitFor('one tab left', async () => (await live(nodeA)).items.find((i) => i.userId === v.userId)?.tabs === 1);
    otherTab.close();
    await waitFor('the visitor gone once its last tab closed', async () =>
      (await live(nodeA)).items.every((i) => i.userId !== v.userId),
    );
    // Not a visitor's or another project's to read.
    const byVisitor = await client(nodeA.url).get<ErrorResponse>(`/v1/projects/${projectId}/visitors/live`, {
      token: v.token,
    });
    expect(byVisitor.status).toBe(403);
  });

  test('timeline: conversations, notes, activity, edits and merges newest first, paged stably across inserts', async () => {
    const v = await visitor(nodeA, 'Timeline');
    const leadId = v.leadId ?? '';
    const source = await visitor(nodeB, 'Merged source');
    const sourceView = await page(source.socket, '/from-source');
    await page(v.socket, '/home');
    const { conversation } = await ok<ConversationStartResult>(v.socket, 'conversation:start', { text: 'Hi' });
    const note = await client(nodeB.url).post<{ note: { id: string } }>(
      `/v1/projects/${projectId}/leads/${leadId}/notes`,
      { token: agent.token, body: { text: 'VIP' } },
    );
    expect(note.status).toBe(201);
    const edit = await client(nodeA.url).patch(`/v1/projects/${projectId}/leads/${leadId}`, {
      token: agent.token,
      body: { tags: ['vip'] },
    });
    expect(edit.status).toBe(200);
    await ok(v.socket, 'event:track', { name: 'signup' });
    const merged = await client(nodeB.url).post(`/v1/projects/${projectId}/leads/${leadId}/merge`, {
      token: agent.token,
      body: { sourceLeadIds: [source.leadId] },
    });
    expect(merged.status).toBe(200);

    const whole = await timeline(leadId, '?limit=100', nodeB);
    const times = whole.items.map((i) => Date.parse(i.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const kinds = whole.items.map((i) =>
      i.type === 'history'
        ? `history:${i.history.kind}`
        : i.type === 'activity'
          ? `activity:${i.activity.kind}`
          : i.type,
    );
    for (const kind of [
      'conversation',
      'note',
      'activity:page_view',
      'activity:event',
      'history:edited',
      'history:merged',
    ])
      expect(kinds).toContain(kind);
    expect(whole.items.find((i) => i.type === 'conversation' && i.conversation.id === conversation.id)).toBeDefined();
    const edited = whole.items.find(
      (i) => i.type === 'history' && i.history.kind === 'edited' && i.history.by.type === 'agent',
    );
    expect(edited?.type === 'history' && edited.history).toMatchObject({ changes: ['tags'], by: { id: agent.id } });
    const mergeEntry = whole.items.find((i) => i.type === 'history' && i.history.kind === 'merged');
    expect(mergeEntry?.type === 'history' && mergeEntry.history.mergedLeadIds).toEqual([source.leadId]);
    // The source's activity came with it.
    expect(whole.items.some((i) => i.type === 'activity' && i.activity.id === sourceView.activityId)).toBe(true);
    expect((await stored(source.leadId ?? '')).length).toBe(0);
    expect(whole.nextCursor).toBeNull();

    // Paged by 2, with a page view arriving between pages: it comes before the cursor, so the
    // pages hold exactly what was there, in order, once each.
    const seen: string[] = [];
    let cursor: string | null = null;
    let inserted = false;
    do {
      const pageOf: LeadTimelinePage = await timeline(leadId, `?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...pageOf.items.map((i) => i.id));
      cursor = pageOf.nextCursor;
      if (!inserted) {
        await page(v.socket, '/meanwhile');
        inserted = true;
      }
    } while (cursor);
    expect(seen).toEqual(whole.items.map((i) => i.id));

    const bad = await client(nodeA.url).get<ErrorResponse>(
      `/v1/projects/${projectId}/leads/${leadId}/timeline?cursor=nonsense`,
      {
        token: agent.token,
      },
    );
    expect(bad.status).toBe(400);
    const admin = await client(nodeA.url).get(`/v1/projects/${projectId}/leads/${leadId}/timeline`, {
      token: TEST_ADMIN_TOKEN,
    });
    expect(admin.status).toBe(401);

    // An erasure takes the activity and the history with the contact (the merged-away one's too).
    const erased = await client(nodeA.url).delete(`/v1/projects/${projectId}/leads/${leadId}`, { token: owner.token });
    expect(erased.status).toBe(204);
    const ids = [leadId, source.leadId];
    expect(await db.collection('leadactivities').countDocuments({ leadId: { $in: ids } })).toBe(0);
    expect(await db.collection('leadhistory').countDocuments({ leadId: { $in: ids } })).toBe(0);
  });

  test('an edit whose copy a crash interrupted is still on the timeline (copied from the lead when read)', async () => {
    const v = await visitor(nodeA, 'Crashy');
    const leadId = v.leadId ?? '';
    // What a crash between the change and its copy leaves: the entry pending on the lead only.
    const entryId = 'pending-entry-1';
    await db.collection('leads').updateOne(
      { _id: leadId as never },
      {
        $push: {
          historyPending: {
            _id: entryId,
            kind: 'edited',
            changes: ['email'],
            by: { type: 'agent' },
            createdAt: new Date(),
          },
        } as never,
      },
    );
    const items = (await timeline(leadId)).items;
    expect(items.some((i) => i.type === 'history' && i.history.id === entryId)).toBe(true);
    expect((await db.collection('leads').findOne({ _id: leadId as never }))?.['historyPending'] ?? []).toEqual([]);
    // Read again: stored once.
    expect((await timeline(leadId)).items.filter((i) => i.id === entryId)).toHaveLength(1);
  });

  test('bulk tag and property changes, blocks and unblocks are edits on the timeline of each contact they change', async () => {
    const one = await visitor(nodeA, 'BulkTL One');
    const two = await visitor(nodeB, 'BulkTL Two');
    const ids = [one.leadId ?? '', two.leadId ?? ''];
    const defined = await client(nodeA.url).post(`/v1/projects/${projectId}/properties`, {
      token: owner.token,
      body: { key: 'tier', label: 'Tier', type: 'text' },
    });
    expect(defined.status).toBe(201);
    const bulk = async (action: unknown) => {
      const res = await client(nodeB.url).post<{ changed: number }>(`/v1/projects/${projectId}/leads/bulk`, {
        token: owner.token,
        body: { filter: { field: 'name', op: 'startsWith', value: 'BulkTL' }, action },
      });
      expect(res.status).toBe(200);
      return res.body;
    };
    const history = async (leadId: string) =>
      (await timeline(leadId, '?limit=100')).items.flatMap((i) => (i.type === 'history' ? [i.history] : []));
    // The visitor's own edit (its name) comes first; only what follows is the bulk's.
    const before = await Promise.all(ids.map(async (id) => (await history(id)).length));

    expect((await bulk({ type: 'addTags', tags: ['bulk-tl'] })).changed).toBe(2);
    expect((await bulk({ type: 'setProperty', key: 'tier', value: 'gold' })).changed).toBe(2);
    // Run again: nothing changes, so nothing new on the timelines.
    expect((await bulk({ type: 'addTags', tags: ['bulk-tl'] })).changed).toBe(0);
    expect((await bulk({ type: 'removeTags', tags: ['bulk-tl'] })).changed).toBe(2);

    for (const [i, id] of ids.entries()) {
      const entries = (await history(id)).slice(0, (await history(id)).length - (before[i] ?? 0));
      expect(entries.map((e) => ({ kind: e.kind, changes: e.changes, by: e.by }))).toEqual([
        { kind: 'edited', changes: ['tags'], by: { type: 'agent', id: owner.id } },
        { kind: 'edited', changes: ['attributes'], by: { type: 'agent', id: owner.id } },
        { kind: 'edited', changes: ['tags'], by: { type: 'agent', id: owner.id } },
      ]);
      // Copied, not left waiting on the contact; each contact's copy is its own.
      const lead = await db.collection('leads').findOne({ _id: id as never });
      expect(lead?.['historyPending'] ?? []).toEqual([]);
      expect(entries.every((e) => e.leadId === id)).toBe(true);
    }

    const blocked = await client(nodeA.url).post(`/v1/projects/${projectId}/leads/${ids[0]}/block`, {
      token: agent.token,
    });
    expect(blocked.status).toBe(200);
    const unblocked = await client(nodeB.url).post(`/v1/projects/${projectId}/leads/${ids[0]}/unblock`, {
      token: owner.token,
    });
    expect(unblocked.status).toBe(200);
    const latest = (await history(ids[0] ?? '')).slice(0, 2);
    expect(latest.map((e) => ({ changes: e.changes, by: e.by }))).toEqual([
      { changes: ['blocked'], by: { type: 'agent', id: owner.id } },
      { changes: ['blocked'], by: { type: 'agent', id: agent.id } },
    ]);
  });

  test("a bulk chunk's shared entry a crash left on two contacts is stored once for each when their timelines are read", async () => {
    const leads = [await visitor(nodeA, 'Shared one'), await visitor(nodeB, 'Shared two')].map((v) => v.leadId ?? '');
    const entryId = 'bulk-crash-1';
    await db.collection('leads').updateMany(
      { _id: { $in: leads } as never },
      {
        $push: {
          historyPending: {
            _id: entryId,
            kind: 'edited',
            changes: ['tags'],
            by: { type: 'agent' },
            createdAt: new Date(),
            shared: true,
          },
        } as never,
      },
    );
    for (const leadId of leads) {
      const read = async () =>
        (await timeline(leadId)).items.filter((i) => i.type === 'history' && i.history.id === `${entryId}:${leadId}`);
      expect(await read()).toHaveLength(1);
      expect(await read()).toHaveLength(1);
    }
    expect(await db.collection('leadhistory').countDocuments({ _id: { $regex: `^${entryId}` } as never })).toBe(2);
  });

  test("a killed node's visitors leave the live list after the TTL; a live node's stay", async () => {
    const v = await visitor(nodeC);
    const stays = await visitor(nodeB);
    await page(v.socket, '/doomed');
    await page(stays.socket, '/staying');
    await waitFor('both visitors listed from node A', async () => {
      const ids = (await live(nodeA)).items.map((i) => i.userId);
      return ids.includes(v.userId) && ids.includes(stays.userId);
    });
    const listedAt = Date.now();
    await nodeC.kill();
    await waitFor(
      'the visitor gone after the TTL',
      async () => (await live(nodeA)).items.every((i) => i.userId !== v.userId),
      { timeoutMs: LIVE_TTL_MS * 4 },
    );
    // Node B keeps pushing its tabs' expiry forward: two TTLs on, its visitor is still there.
    await waitFor('two TTLs to pass', () => Date.now() - listedAt > 2 * LIVE_TTL_MS, { timeoutMs: LIVE_TTL_MS * 4 });
    expect((await live(nodeA)).items.find((i) => i.userId === stays.userId)).toMatchObject({
      url: 'https://shop.example.com/staying',
      tabs: 1,
    });
  });
});

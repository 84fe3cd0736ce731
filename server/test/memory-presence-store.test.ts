import { MemoryPresenceStore } from '../src/presence/memory-presence-store';
import { presenceTiming } from '../src/presence/presence-store';

describe('presence (one node, in memory)', () => {
  let now = 0;
  const store = () => new MemoryPresenceStore(30_000, () => now);
  beforeEach(() => {
    now = 1_000_000;
  });

  it('announces online at the first socket, and nothing for the next ones', async () => {
    const presence = store();
    expect((await presence.connect('p', 'a')).changes).toEqual([{ projectId: 'p', agentId: 'a', status: 'online' }]);
    expect((await presence.connect('p', 'a')).changes).toEqual([]);
    expect(await presence.statuses('p')).toEqual(new Map([['a', 'online']]));
    expect(await presence.statuses('other')).toEqual(new Map());
  });

  it('keeps the agent as it was for the grace period after the last socket, then offline', async () => {
    const presence = store();
    await presence.connect('p', 'a');
    await presence.connect('p', 'a');
    expect((await presence.disconnect('p', 'a')).changes).toEqual([]);
    expect((await presence.disconnect('p', 'a')).changes).toEqual([]);
    now += 29_999;
    expect((await presence.sweep()).changes).toEqual([]);
    expect((await presence.statuses('p')).get('a')).toBe('online');
    now += 1;
    expect((await presence.sweep()).changes).toEqual([{ projectId: 'p', agentId: 'a', status: 'offline' }]);
    expect((await presence.sweep()).changes).toEqual([]);
    expect(await presence.offlinePending()).toEqual([{ projectId: 'p', agentId: 'a', mark: expect.any(String) }]);
  });

  it('does not count a reload (a socket back within the grace period) as an absence', async () => {
    const presence = store();
    await presence.connect('p', 'a');
    await presence.disconnect('p', 'a');
    now += 10_000;
    expect((await presence.connect('p', 'a')).changes).toEqual([]);
    now += 60_000;
    expect((await presence.sweep()).changes).toEqual([]);
    expect((await presence.statuses('p')).get('a')).toBe('online');
  });

  it('announces the choice of away while connected, and keeps it across reconnects', async () => {
    const presence = store();
    await presence.connect('p', 'a');
    expect((await presence.choose('p', 'a', 'away')).changes).toEqual([
      { projectId: 'p', agentId: 'a', status: 'away' },
    ]);
    await presence.disconnect('p', 'a');
    now += 31_000;
    expect((await presence.sweep()).changes).toEqual([{ projectId: 'p', agentId: 'a', status: 'offline' }]);
    expect((await presence.connect('p', 'a')).changes).toEqual([{ projectId: 'p', agentId: 'a', status: 'away' }]);
    // Back: the pending offline announcement is moot.
    expect(await presence.offlinePending()).toEqual([]);
  });

  it('clears an offline announcement only once handled, and not a later one', async () => {
    const presence = store();
    await presence.connect('p', 'a');
    await presence.disconnect('p', 'a');
    now += 30_000;
    await presence.sweep();
    const [first] = await presence.offlinePending();
    await presence.connect('p', 'a');
    await presence.disconnect('p', 'a');
    now += 30_000;
    await presence.sweep();
    await presence.offlineHandled(first!);
    expect(await presence.offlinePending()).toHaveLength(1);
    const [second] = await presence.offlinePending();
    await presence.offlineHandled(second!);
    expect(await presence.offlinePending()).toEqual([]);
  });

  it('restores counts from what the node holds', async () => {
    const presence = store();
    await presence.connect('p', 'a');
    await presence.connect('p', 'b');
    expect((await presence.restore([{ projectId: 'p', agentId: 'a', count: 1 }])).changes).toEqual([]);
    now += 30_000;
    expect((await presence.sweep()).changes).toEqual([{ projectId: 'p', agentId: 'b', status: 'offline' }]);
  });

  it('derives node beats from the grace period, never judging a node dead within 5 s', () => {
    expect(presenceTiming(30_000)).toEqual({ graceMs: 30_000, beatMs: 5_000, nodeTtlMs: 15_000 });
    expect(presenceTiming(1_000)).toEqual({ graceMs: 1_000, beatMs: 333, nodeTtlMs: 5_000 });
    expect(presenceTiming(100).beatMs).toBe(250);
  });
});

import type { BroadcastOptions } from 'socket.io-adapter';
import { isRecoveringAdapter, RecoveryStash } from '../src/recovery-stash';
import { UNRECORDED_OFFSET } from '../src/stream-id';

const to = (...rooms: string[]): BroadcastOptions => ({ rooms: new Set(rooms), except: new Set(), flags: {} });

describe('recovery stash', () => {
  afterEach(() => jest.useRealTimers());

  it('hands back the data and missed packets once, then what reached the rooms meanwhile', () => {
    const stash = new RecoveryStash();
    stash.open('sid', ['sid', 'project:1'], { principal: { agentId: 'a' } }, '10-5');
    stash.setMissed('sid', [
      ['m1', '10-4'],
      ['m2', '10-5'],
    ]);
    stash.capture(['other project', '10-6'], to('project:2'), '10-6');
    stash.capture(['live', '10-7'], to('project:1'), '10-7');
    expect(stash.take('sid')).toEqual({
      data: { principal: { agentId: 'a' } },
      packets: [
        ['m1', '10-4'],
        ['m2', '10-5'],
        ['live', '10-7'],
      ],
      complete: true,
    });
    expect(stash.take('sid')).toBeUndefined();
  });

  it('skips captures the missed packets already hold, keeps those without a stream position', () => {
    const stash = new RecoveryStash();
    stash.open('sid', ['project:1'], {}, '10-5');
    stash.capture(['read already'], to('project:1'), '10-5');
    stash.capture(['older'], to('project:1'), '9-0');
    stash.capture(['unrecorded'], to('project:1'), UNRECORDED_OFFSET);
    stash.capture(['no offset'], to('project:1'), undefined);
    stash.capture(['new'], to('project:1'), '10-6');
    expect(stash.take('sid')?.packets).toEqual([['unrecorded'], ['no offset'], ['new']]);
  });

  it('gives up on a session that had more than it is sensible to replay', () => {
    const stash = new RecoveryStash();
    stash.open('sid', ['project:1'], {});
    for (let i = 0; i <= 2_000; i++) stash.capture([`p${i}`], to('project:1'), undefined);
    expect(stash.take('sid')).toEqual({ data: {}, packets: [], complete: false });
  });

  it('forgets a session whose socket never connected, and one dropped or reopened', () => {
    jest.useFakeTimers();
    const stash = new RecoveryStash();
    stash.open('gone', [], 'old');
    stash.open('dropped', [], {});
    stash.drop('dropped');
    stash.open('twice', [], 'first');
    stash.setMissed('twice', [['stale']]);
    stash.open('twice', [], 'second');
    expect(stash.take('dropped')).toBeUndefined();
    expect(stash.take('twice')).toEqual({ data: 'second', packets: [], complete: true });
    jest.advanceTimersByTime(30_000);
    expect(stash.take('gone')).toBeUndefined();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('recognises an adapter that keeps restored sessions', () => {
    expect(isRecoveringAdapter({ takeRecovered: () => undefined })).toBe(true);
    expect(isRecoveringAdapter({})).toBe(false);
    expect(isRecoveringAdapter(undefined)).toBe(false);
  });
});

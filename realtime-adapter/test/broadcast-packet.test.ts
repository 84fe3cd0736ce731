import type { BroadcastOptions } from 'socket.io-adapter';
import {
  decodeOptions,
  encodeOptions,
  isRecoverable,
  isVolatile,
  namespacePacket,
  reaches,
} from '../src/broadcast-packet';

const to = (rooms: string[], except: string[] = [], flags: BroadcastOptions['flags'] = {}): BroadcastOptions => ({
  rooms: new Set(rooms),
  except: new Set(except),
  flags,
});

describe('broadcast packets', () => {
  it('reaches a socket in one of the target rooms, or every socket when there are none, unless excluded', () => {
    expect(reaches(['s1', 'project:1'], to(['project:1']))).toBe(true);
    expect(reaches(['s1', 'project:2'], to(['project:1']))).toBe(false);
    expect(reaches(['s1'], to([]))).toBe(true);
    expect(reaches(['s1', 'project:1'], to(['project:1'], ['s1']))).toBe(false);
    expect(reaches(['s2', 'project:1'], to(['project:1'], ['s1']))).toBe(true);
    expect(reaches(['s1'], { rooms: [] })).toBe(true);
  });

  it('keeps for recovery only events without an ack that are not volatile', () => {
    const event = { type: 2, data: ['message.created', {}] };
    expect(isRecoverable(event, to([]))).toBe(true);
    expect(isRecoverable({ ...event, id: 7 }, to([]))).toBe(false);
    expect(isRecoverable({ type: 3, data: [] }, to([]))).toBe(false);
    expect(isRecoverable(event, to([], [], { volatile: true }))).toBe(false);
    expect(isVolatile({ flags: { volatile: false } })).toBe(false);
    expect(isVolatile({})).toBe(false);
  });

  it('carries options between nodes as arrays and back as sets', () => {
    const opts = to(['a', 'b'], ['c'], { local: false });
    const wire = encodeOptions(opts);
    expect(JSON.parse(JSON.stringify(wire))).toEqual({ rooms: ['a', 'b'], except: ['c'], flags: { local: false } });
    expect(decodeOptions(wire)).toEqual(opts);
    expect(encodeOptions({ rooms: new Set() })).toEqual({ rooms: [], except: [], flags: {} });
  });

  it('makes a namespace-wide event packet', () => {
    expect(namespacePacket('/agent', ['sync.reload', { reason: 'node_lost' }])).toEqual({
      type: 2,
      data: ['sync.reload', { reason: 'node_lost' }],
      nsp: '/agent',
    });
  });
});

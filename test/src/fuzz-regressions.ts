import type { FuzzCase } from './support/fuzz-cases';
import { nested } from './support/hostile';

/**
 * Inputs the fuzz suite (fuzz.test.ts) once failed on, or that guard a path the random search
 * reaches rarely. Each runs on every `npm test`, before the random cases, judged by the same
 * invariants. A failing fuzz run prints its counterexample in this form: add it here with why.
 *
 * Ids and tokens are symbols, resolved against the run's world (support/fuzz-world.ts): `§conv:i`
 * and `§lead:i` index the pools (0: the fuzzing visitor's, 1: the second visitor's, 2: project
 * B's), `§projectA`, `§spare`, `§token-v1`…
 */
export interface FuzzRegression {
  /** The entry point, as fuzz-cases.ts names it: `/visitor message:send`, `PATCH /v1/projects/:projectId`. */
  entry: string;
  why: string;
  case: FuzzCase;
}

export const FUZZ_REGRESSIONS: FuzzRegression[] = [
  {
    entry: '/visitor message:send',
    why: 'a frame over the Socket.IO cap closes the socket and nothing else (the next case reconnects)',
    case: { payload: { conversationId: '§conv:0', clientMessageId: 'big', text: '😀'.repeat(20_000) } },
  },
  {
    entry: '/agent conversation:join',
    why: 'a payload 2000 arrays deep (once overflowed the stack of the suite itself, resolving symbols)',
    case: { payload: nested(2000, 'array') },
  },
  {
    entry: 'POST /v1/admin/projects/:projectId/agents/:agentId/password',
    why: 'a body 2000 arrays deep',
    case: { caller: 'admin', params: { projectId: '§projectA', agentId: '§spare' }, body: nested(2000, 'array') },
  },
  {
    entry: 'GET /v1/projects/:projectId/leads',
    why: "a query string past Node's 16 KB request-line limit was answered by Node, a bare 431 with no protocol error",
    case: {
      caller: 'owner',
      params: { projectId: '§projectA' },
      query: { valid: {}, pairs: [['email', '%C3%A9'.repeat(8_000)]] },
    },
  },
];

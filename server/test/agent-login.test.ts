import crypto from 'node:crypto';
import { startEmbeddedMongo, type EmbeddedMongo } from '@parley/embedded-mongo';
import mongoose, { type Connection } from 'mongoose';
import { registerAgentModel, type AgentModel } from '../src/agents/agent-model';
import { AgentService } from '../src/agents/agent-service';
import { MemoryStandingStore } from '../src/agents/agent-standing';
import { PasswordHasher, SCRYPT_COST } from '../src/agents/password';
import { registerPendingStandingModel, StandingSync } from '../src/agents/standing-sync';
import { AppError } from '../src/errors';
import { Clock } from '../src/infra/clock';
import { EventBus } from '../src/infra/event-bus';
import { LeaseLocks, registerLockModel } from '../src/infra/lease-lock';

/**
 * A login must not tell which emails belong to agents, by its answer or by its time. Time is not
 * asserted (too noisy to be a test); the work that makes it is: how many scrypt runs each login
 * makes, and at which cost, counted at node:crypto, the seam PasswordHasher calls.
 */
describe('AgentService.authenticate', () => {
  const cost = { ...SCRYPT_COST, N: 2 ** 10 };
  let mongo: EmbeddedMongo;
  let connection: Connection;
  let agentModel: AgentModel;
  let service: AgentService;
  /** The N of every scrypt run since the last reset. */
  let runs: number[] = [];
  let spy: jest.SpyInstance;

  beforeAll(async () => {
    mongo = await startEmbeddedMongo();
    connection = mongoose.createConnection(`${mongo.uri}/login_test?directConnection=true`, { autoIndex: true });
    agentModel = registerAgentModel(connection);
    const pending = registerPendingStandingModel(connection);
    const locks = registerLockModel(connection);
    await connection.asPromise();
    await Promise.all([agentModel.init(), pending.init(), locks.init()]);
    const standings = new MemoryStandingStore();
    service = new AgentService(
      agentModel,
      new EventBus(),
      new PasswordHasher(cost),
      standings,
      new StandingSync(pending, agentModel, standings, new Clock()),
      new LeaseLocks(locks, new Clock()),
    );
    await service.create('p1', { email: 'ann@example.com', name: 'Ann', password: 'correct horse battery' });
    const scrypt = crypto.scrypt.bind(crypto) as (...args: unknown[]) => void;
    spy = jest.spyOn(crypto, 'scrypt').mockImplementation(((...args: unknown[]) => {
      runs.push((args[3] as crypto.ScryptOptions).N as number);
      scrypt(...args);
    }) as typeof crypto.scrypt);
  });
  afterAll(async () => {
    spy.mockRestore();
    await connection.close();
    await mongo.stop();
  });
  beforeEach(() => (runs = []));

  async function refusal(email: string, password: string): Promise<AppError> {
    const error = await service.authenticate(email, password).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }

  it('runs one scrypt at the current cost for an unknown email, from the first one on, as for a wrong password', async () => {
    const unknown = await refusal('nobody@example.com', 'correct horse battery');
    expect(runs).toEqual([cost.N]);
    runs = [];
    await refusal('nobody-else@example.com', 'whatever');
    expect(runs).toEqual([cost.N]);
    runs = [];
    const wrong = await refusal('ann@example.com', 'not the password');
    expect(runs).toEqual([cost.N]);
    expect([unknown.code, unknown.message]).toEqual([wrong.code, wrong.message]);
  });

  it('runs the same one scrypt for an account whose stored hash cannot be read', async () => {
    await agentModel.create({
      projectId: 'p1',
      email: 'broken@example.com',
      name: 'Broken',
      role: 'agent',
      passwordHash: 'not-a-hash',
      credentialVersion: 0,
    });
    await refusal('broken@example.com', 'not-a-hash');
    expect(runs).toEqual([cost.N]);
  });

  it('signs in with the right password in one scrypt when the hash is at the current cost', async () => {
    const account = await service.authenticate('ann@example.com', 'correct horse battery');
    expect(account.agent.email).toBe('ann@example.com');
    expect(runs).toEqual([cost.N]);
  });
});

import { MongoClient } from 'mongodb';
import { startSharedMongo, type SharedMongo } from './support/mongo-process';
import { startParley, type ParleyProcess } from './support/parley-process';

/**
 * A database written by the version before the webhook claim rework: its delivery indexes differ
 * (one has the same keys with other options, which MongoDB refuses to build over). The new version
 * starts on it and ends with its own indexes.
 */
describe('webhook delivery indexes of an earlier version', () => {
  let mongo: SharedMongo;
  let mongoClient: MongoClient;
  let server: ParleyProcess | undefined;

  beforeAll(async () => {
    mongo = await startSharedMongo();
    mongoClient = new MongoClient(mongo.uri, { serverSelectionTimeoutMS: 5000 });
    await mongoClient.connect();
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    server?.cleanup();
    await mongoClient?.close();
    await mongo?.stop();
  }, 30_000);

  it('are replaced at start, so the server starts', async () => {
    const deliveries = mongoClient.db().collection('webhook_deliveries');
    await deliveries.createIndex({ status: 1, dueAt: 1 });
    await deliveries.createIndex({ status: 1, createdAt: 1 });
    await deliveries.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 });

    server = await startParley({ env: { MONGODB_URI: mongo.uri } });

    const indexes = await deliveries.listIndexes().toArray();
    const names = indexes.map((index) => index['name'] as string);
    expect(names).not.toContain('status_1_dueAt_1');
    expect(names).not.toContain('status_1_createdAt_1');
    expect(indexes.find((index) => index['name'] === 'expiresAt_1')).toMatchObject({
      sparse: true,
      expireAfterSeconds: 0,
    });
    expect(names).toContain('dueAt_1');
    expect(server.output()).toContain('dropped webhook delivery indexes of an earlier version');
  }, 60_000);
});

import { MongoClient } from 'mongodb';
import { takeCreatedDatabases } from './parley-process';

/**
 * Run after every integration test file (jest `setupFilesAfterEnv`): on a real MongoDB, the
 * `parley_test_…` databases its servers used are dropped, so that runs leave nothing behind. Its
 * hook is at the root, so it runs after the file's own `afterAll`s (which stop the servers).
 */
afterAll(async () => {
  for (const uri of takeCreatedDatabases()) {
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
    try {
      await client.connect();
      await client.db().dropDatabase();
    } catch {
      // Unreachable or already gone: nothing left to clean.
    } finally {
      await client.close();
    }
  }
}, 30_000);

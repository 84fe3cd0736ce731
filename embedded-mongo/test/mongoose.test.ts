import mongoose, { Schema, Types, type Connection } from 'mongoose';
import { MongoServerError } from 'mongodb';
import { startEmbeddedMongo, type EmbeddedMongo } from '../src';
import { rejection } from './support';

interface ContactDoc {
  projectId: string;
  userId: string;
  email?: string;
  name?: string;
  searchKeys?: string[];
  visits: number;
  owner?: Types.ObjectId;
  requestId?: string;
  createdAt?: Date;
  updatedAt?: Date;
}

/** mongoose through the real driver, as Parley's server uses it. */
describe('mongoose', () => {
  let server: EmbeddedMongo;
  let connection: Connection;
  const unknownCommands: string[] = [];

  const contactSchema = new Schema(
    {
      projectId: { type: String, required: true },
      userId: { type: String, required: true },
      email: { type: String, unique: true, sparse: true },
      name: String,
      searchKeys: [String],
      visits: { type: Number, default: 0 },
      owner: { type: Schema.Types.ObjectId, ref: 'Agent' },
      requestId: String,
    },
    { timestamps: true },
  );
  contactSchema.index({ projectId: 1, userId: 1 }, { unique: true });
  contactSchema.index({ projectId: 1, searchKeys: 1 });
  contactSchema.index(
    { projectId: 1, requestId: 1 },
    { unique: true, partialFilterExpression: { requestId: { $type: 'string' } } },
  );
  const agentSchema = new Schema({ name: String, email: { type: String, unique: true } });

  beforeAll(async () => {
    server = await startEmbeddedMongo();
    // As Parley connects: a database in the path, directConnection, indexes built at connect.
    connection = mongoose.createConnection(`${server.uri}/parley_test?directConnection=true`, {
      autoIndex: true,
      autoCreate: true,
      monitorCommands: true,
    });
    connection.on('commandFailed', (event: { failure: Error }) => {
      if (/no such command/.test(event.failure.message)) unknownCommands.push(event.failure.message);
    });
    connection.model('Contact', contactSchema);
    connection.model('Agent', agentSchema);
    await connection.asPromise();
    await Promise.all(Object.values(connection.models).map((model) => model.init()));
  });
  afterAll(async () => {
    await connection.close();
    await server.stop();
  });

  const Contact = () => connection.model<ContactDoc>('Contact');
  const Agent = () => connection.model<{ name: string; email: string }>('Agent');

  it('builds the schema indexes at connect, with their options', async () => {
    const indexes = await Contact().listIndexes();
    expect(indexes.map((i) => i['name']).sort()).toEqual([
      '_id_',
      'email_1',
      'projectId_1_requestId_1',
      'projectId_1_searchKeys_1',
      'projectId_1_userId_1',
    ]);
    expect(indexes.find((i) => i['name'] === 'email_1')).toMatchObject({ unique: true, sparse: true });
    expect(indexes.find((i) => i['name'] === 'projectId_1_requestId_1')).toMatchObject({
      unique: true,
      partialFilterExpression: { requestId: { $type: 'string' } },
    });
    // Syncing finds nothing to change.
    expect(await Contact().syncIndexes()).toEqual([]);
  });

  it('raises the same duplicate-key errors as MongoDB', async () => {
    await Contact().create({ projectId: 'p', userId: 'u1', email: 'a@x' });
    const byEmail = await rejection(Contact().create({ projectId: 'p', userId: 'u2', email: 'a@x' }));
    expect(byEmail).toBeInstanceOf(MongoServerError);
    expect(byEmail).toMatchObject({ code: 11000, keyPattern: { email: 1 }, keyValue: { email: 'a@x' } });
    expect(byEmail.message).toBe(
      'E11000 duplicate key error collection: parley_test.contacts index: email_1 dup key: { email: "a@x" }',
    );
    const compound = await rejection(Contact().create({ projectId: 'p', userId: 'u1' }));
    expect(compound).toMatchObject({
      code: 11000,
      keyPattern: { projectId: 1, userId: 1 },
      keyValue: { projectId: 'p', userId: 'u1' },
    });
    // Sparse: many contacts without an email.
    await Contact().create([
      { projectId: 'p', userId: 'u3' },
      { projectId: 'p', userId: 'u4' },
    ]);
    // Partial: only string requestIds are unique.
    await Contact().create({ projectId: 'p', userId: 'u5', requestId: 'r1' });
    await expect(Contact().create({ projectId: 'p', userId: 'u6', requestId: 'r1' })).rejects.toMatchObject({
      code: 11000,
    });
    await Contact().create({ projectId: 'p', userId: 'u7' });
    const bulk = await rejection(
      Contact().insertMany(
        [
          { projectId: 'p', userId: 'u1' },
          { projectId: 'p', userId: 'u8' },
        ],
        { ordered: false },
      ),
    );
    expect(bulk).toMatchObject({ code: 11000 });
    expect(await Contact().exists({ userId: 'u8' })).toBeTruthy();
    // An update into a taken key fails and changes nothing.
    await expect(Contact().updateOne({ userId: 'u3' }, { $set: { email: 'a@x', name: 'lost' } })).rejects.toMatchObject(
      { code: 11000 },
    );
    expect(await Contact().findOne({ userId: 'u3' }).lean()).not.toHaveProperty('name');
  });

  it('makes one document of 50 concurrent upserts of one key, and loses no $inc', async () => {
    await Promise.all(
      Array.from({ length: 50 }, () =>
        Contact().findOneAndUpdate(
          { projectId: 'race', userId: 'visitor' },
          { $setOnInsert: { name: 'first' }, $inc: { visits: 1 } },
          { upsert: true, returnDocument: 'after' },
        ),
      ),
    );
    const docs = await Contact().find({ projectId: 'race' }).lean();
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({ name: 'first', visits: 50 });
    await Promise.all(
      Array.from({ length: 100 }, () => Contact().updateOne({ projectId: 'race' }, { $inc: { visits: 1 } })),
    );
    expect((await Contact().findOne({ projectId: 'race' }).lean())?.visits).toBe(150);
  });

  it('reads, counts, populates, sorts and pages', async () => {
    const agent = await Agent().create({ name: 'Ada', email: 'ada@x' });
    await Contact().create(
      Array.from({ length: 30 }, (_, i) => ({
        projectId: 'list',
        userId: `l${i}`,
        name: `Name ${i}`,
        searchKeys: [`name ${i}`, `l${i}@mail`],
        owner: agent._id,
      })),
    );
    expect(await Contact().countDocuments({ projectId: 'list' })).toBe(30);
    const page = await Contact()
      .find({ projectId: 'list' })
      .sort({ userId: -1 })
      .skip(2)
      .limit(3)
      .select('userId -_id')
      .lean();
    expect(page).toEqual([{ userId: 'l7' }, { userId: 'l6' }, { userId: 'l5' }]);
    const found = await Contact()
      .find({ projectId: 'list', searchKeys: /^name 2/ })
      .populate('owner')
      .lean();
    expect(found.map((c) => c.userId).sort()).toEqual([
      'l2',
      'l20',
      'l21',
      'l22',
      'l23',
      'l24',
      'l25',
      'l26',
      'l27',
      'l28',
      'l29',
    ]);
    expect(found[0]?.owner).toMatchObject({ name: 'Ada' });
    expect(await Contact().distinct('owner', { projectId: 'list' })).toEqual([agent._id]);
    const byOwner = await Contact().aggregate([
      { $match: { projectId: 'list' } },
      { $group: { _id: '$owner', n: { $sum: 1 } } },
    ]);
    expect(byOwner).toEqual([{ _id: agent._id, n: 30 }]);
    const streamed: string[] = [];
    for await (const doc of Contact().find({ projectId: 'list' }).sort({ userId: 1 }).cursor({ batchSize: 4 })) {
      streamed.push(doc.get('userId') as string);
    }
    expect(streamed).toHaveLength(30);
    const one = await Contact().findById(found[0]?._id);
    expect(one?.get('createdAt')).toBeInstanceOf(Date);
    expect(Types.ObjectId.isValid(String(one?._id))).toBe(true);
  });

  it('updates, replaces, bulk-writes and deletes', async () => {
    await Contact().create({ projectId: 'w', userId: 'w1', visits: 1 });
    const after = await Contact()
      .findOneAndUpdate({ userId: 'w1' }, { $inc: { visits: 2 }, $set: { name: 'W' } }, { returnDocument: 'after' })
      .lean();
    expect(after).toMatchObject({ visits: 3, name: 'W' });
    expect(after?.updatedAt).toBeInstanceOf(Date);
    const result = await Contact().bulkWrite([
      { insertOne: { document: { projectId: 'w', userId: 'w2' } } },
      { updateOne: { filter: { userId: 'w2' }, update: { $push: { searchKeys: 'k' } } } },
      { updateMany: { filter: { projectId: 'w' }, update: { $set: { name: 'all' } } } },
      { deleteOne: { filter: { userId: 'nobody' } } },
    ]);
    expect(result).toMatchObject({ insertedCount: 1, matchedCount: 3, modifiedCount: 3, deletedCount: 0 });
    await Contact().replaceOne({ userId: 'w2' }, { projectId: 'w', userId: 'w2', name: 'replaced' });
    expect(await Contact().findOne({ userId: 'w2' }).lean()).toMatchObject({ name: 'replaced' });
    expect((await Contact().deleteMany({ projectId: 'w' })).deletedCount).toBe(2);
    expect(await Contact().findOneAndDelete({ projectId: 'w' })).toBeNull();
  });

  it('refuses transactions and change streams clearly', async () => {
    const session = await connection.startSession();
    try {
      const error = await rejection(
        session.withTransaction(async () => {
          await Contact().create([{ projectId: 'tx', userId: 't1' }], { session });
        }),
      );
      // The driver words the server's "Transaction numbers are only allowed on a replica set member"
      // (code 20) this way, against embedded-mongo as against a standalone MongoDB.
      expect(error.message).toMatch(/does not support retryable writes/);
    } finally {
      await session.endSession();
    }
    expect(await Contact().countDocuments({ projectId: 'tx' })).toBe(0);
    const stream = Contact().watch();
    const streamError = await new Promise<Error>((resolve) => stream.once('error', resolve));
    expect(streamError).toMatchObject({ code: 115 });
    await stream.close();
  });

  it('never needed a command embedded-mongo lacks', () => {
    expect(unknownCommands).toEqual([]);
  });

  it('connects through mongoose.connect with the URI forms Parley uses', async () => {
    const direct = await mongoose.createConnection(`${server.uri}/other_db`).asPromise();
    try {
      const Thing = direct.model('Thing', new Schema({ k: { type: String, unique: true } }));
      await Thing.init();
      await Thing.create({ k: 'x' });
      await expect(Thing.create({ k: 'x' })).rejects.toMatchObject({ code: 11000 });
      expect(await Thing.estimatedDocumentCount()).toBe(1);
    } finally {
      await direct.close();
    }
  });
});

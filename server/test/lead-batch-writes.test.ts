import { startEmbeddedMongo, type EmbeddedMongo } from '@parley/embedded-mongo';
import mongoose, { type Connection } from 'mongoose';
import { registerConversationModel } from '../src/conversations/conversation-model';
import { EventBus, type DomainEvents } from '../src/infra/event-bus';
import { registerLeadModel, type LeadDoc, type LeadModel } from '../src/leads/lead-model';
import { diffProfile } from '../src/leads/lead-profile';
import { LeadService, newLeadDoc } from '../src/leads/lead-service';

/**
 * The batch writes an import's slice uses, against a real mongoose connection to the embedded
 * MongoDB (the unique index and the compare-and-set are the database's): an unordered insert that
 * goes on past a user who has a lead already, and an unordered bulk of compare-and-set updates
 * that tells which ones lost their race.
 */
describe('LeadService batch writes', () => {
  let mongo: EmbeddedMongo;
  let connection: Connection;
  let leads: LeadModel;
  let service: LeadService;
  const bus = new EventBus();
  const created: DomainEvents['lead.created'][] = [];
  const updated: DomainEvents['lead.updated'][] = [];
  bus.subscribe('lead.created', (e) => created.push(e));
  bus.subscribe('lead.updated', (e) => updated.push(e));

  beforeAll(async () => {
    mongo = await startEmbeddedMongo();
    connection = mongoose.createConnection(`${mongo.uri}/lead_batch_test?directConnection=true`, { autoIndex: true });
    leads = registerLeadModel(connection);
    const conversations = registerConversationModel(connection);
    await connection.asPromise();
    await Promise.all([leads.init(), conversations.init()]);
    service = new LeadService(leads, conversations, bus);
  });
  afterAll(async () => {
    await connection.close();
    await mongo.stop();
  });
  beforeEach(() => {
    created.length = 0;
    updated.length = 0;
  });

  const lead = (userId: string, email: string) =>
    newLeadDoc('p1', userId, 'manual', { email, fullname: `Name ${userId}` }, 'agent', 'imp1');
  const agent = { origin: () => 'agent' as const };

  it('inserts every new lead past one whose user has a lead already, and names that one', async () => {
    const [first] = await leads.insertMany([lead('u-taken', 'taken@example.com')], { lean: true });
    const docs = [lead('u-1', 'one@example.com'), lead('u-taken', 'again@example.com'), lead('u-2', 'two@example.com')];
    const { inserted, taken } = await service.insertMany('p1', docs, 'imp1');
    expect([...taken]).toEqual([1]);
    expect(inserted.map((d) => d.userId)).toEqual(['u-1', 'u-2']);
    expect(created.map((e) => [e.lead.userId, e.importId])).toEqual([
      ['u-1', 'imp1'],
      ['u-2', 'imp1'],
    ]);
    // The lead that was there is untouched.
    expect((await leads.findById(first?._id).lean<LeadDoc>())?.email).toBe('taken@example.com');
  });

  it('applies compare-and-set changes in one write, and tells which lost their race', async () => {
    const docs = ['c-1', 'c-2', 'c-3', 'c-4'].map((u) => lead(u, `${u}@example.com`));
    await leads.insertMany(docs, { lean: true });
    const changes = docs.map((before) => ({
      before,
      diff: diffProfile(before, { fullname: 'Imported', attributes: { plan: 'pro' } }, new Date(), agent),
    }));
    // c-2: another writer changed it first with other values; c-3: with the same values; c-4: merged away.
    await leads.updateOne({ _id: docs[1]?._id }, { $set: { fullname: 'Agent edit' }, $inc: { rev: 1 } });
    await leads.updateOne(
      { _id: docs[2]?._id },
      { $set: { fullname: 'Imported', 'attributes.plan': 'pro' }, $inc: { rev: 1 } },
    );
    await leads.updateOne({ _id: docs[3]?._id }, { $set: { mergedInto: docs[0]?._id } });

    const held = await service.applyMany(changes, 'imp1');
    expect(held).toEqual([true, false, true, false]);
    const after = await leads.find({ _id: { $in: docs.map((d) => d._id) } }).lean<LeadDoc[]>();
    const byUser = new Map(after.map((d) => [d.userId, d]));
    expect(byUser.get('c-1')).toMatchObject({ fullname: 'Imported', attributes: { plan: 'pro' }, rev: 1 });
    // The writer that got there first keeps its value: the caller writes the row again from a fresh read.
    expect(byUser.get('c-2')).toMatchObject({ fullname: 'Agent edit', rev: 1 });
    expect(byUser.get('c-4')?.fullname).toBe('Name c-4');
    expect(updated.map((e) => [e.lead.userId, e.importId])).toEqual([
      ['c-1', 'imp1'],
      ['c-3', 'imp1'],
    ]);
  });
});

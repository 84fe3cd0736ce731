import jwt from 'jsonwebtoken';
import type {
  ConversationStartResult,
  Lead,
  LeadDetailResponse,
  LeadMergedResponse,
  LeadUpdateResult,
  VisitorAuthResponse,
  VisitorLeadView,
} from '@parley/protocol';
import { startDatabase, type TestDatabase } from './support/database';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { startParley, type ParleyProcess } from './support/parley-process';
import { connectVisitor, ok, type VisitorClientSocket } from './support/sockets';

const now = () => Math.floor(Date.now() / 1000);

/**
 * Every value on a contact has an origin (a visitor, the customer's verified sign-in, an agent),
 * and a visitor reads and writes only its own. The audit's attack: a visitor types someone else's
 * email in the pre-chat form, an agent merges the two contacts, and the attacker reads the
 * victim's profile in its next `lead:update` ack and rewrites it. Both merge directions, from both
 * visitors' side.
 */
describe('a visitor sees and changes only what it entered itself', () => {
  let database: TestDatabase;
  let server: ParleyProcess;
  let projectId: string;
  let secret: string;
  let agent: TestAgent;
  const api = () => client(server.url);

  beforeAll(async () => {
    database = await startDatabase();
    server = await startParley({ env: { MONGODB_URI: database.uri } });
    ({
      project: { id: projectId },
      secret,
    } = await createProject(server.url));
    agent = await createAgent(server.url, projectId);
  });
  afterAll(async () => {
    await server.stop();
    server.cleanup();
    await database.stop();
  });

  const leadIdOf = async (userId: string) =>
    String((await database.db.collection('leads').findOne({ projectId, userId }))?.['_id']);
  const contact = async (leadId: string) =>
    (await api().get<LeadDetailResponse>(`/v1/projects/${projectId}/leads/${leadId}`, { token: agent.token })).body;
  const patch = (leadId: string, body: unknown) =>
    api().patch<Lead>(`/v1/projects/${projectId}/leads/${leadId}`, { token: agent.token, body });
  const merge = (targetId: string, sourceId: string) =>
    api().post<LeadMergedResponse>(`/v1/projects/${projectId}/leads/${targetId}/merge`, {
      token: agent.token,
      body: { sourceLeadIds: [sourceId] },
    });
  const update = async (socket: VisitorClientSocket, fields: unknown) =>
    (await ok<LeadUpdateResult>(socket, 'lead:update', fields)).lead;

  interface Party {
    userId: string;
    leadId: string;
    socket: VisitorClientSocket;
    conversationId: string;
  }

  /**
   * The victim signs in verified (the customer vouches for name, email and plan), adds a phone in
   * the pre-chat form, and an agent notes things about them. The attacker is anonymous and types
   * the victim's email in the pre-chat form.
   */
  async function victimAndAttacker(tag: string): Promise<{ victim: Party; attacker: Party }> {
    const email = `victim-${tag}@corp.test`;
    const token = jwt.sign(
      { sub: `cust-${tag}`, exp: now() + 300, email, fullname: 'Victor Victim', attributes: { plan: 'enterprise' } },
      secret,
    );
    const signedIn = await api().post<VisitorAuthResponse>(`/v1/projects/${projectId}/auth/verified`, {
      body: { token },
    });
    const victimSocket = await connectVisitor(server.url, signedIn.body.token);
    await update(victimSocket, { phone: '+1 555 0100' });
    const victimStart = await ok<ConversationStartResult>(victimSocket, 'conversation:start', { text: 'hello' });
    const victimLeadId = await leadIdOf(signedIn.body.user.id);
    expect(
      (await patch(victimLeadId, { attributes: { internalNote: 'card ending 4242', fraudFlag: false } })).status,
    ).toBe(200);

    const anonymous = await anonymousVisitor(server.url, projectId);
    const attackerSocket = await connectVisitor(server.url, anonymous.token);
    await update(attackerSocket, { fullname: 'Mallory', email, attributes: { ref: 'ad-campaign' } });
    const attackerStart = await ok<ConversationStartResult>(attackerSocket, 'conversation:start', { text: 'hi' });
    return {
      victim: {
        userId: signedIn.body.user.id,
        leadId: victimLeadId,
        socket: victimSocket,
        conversationId: victimStart.conversation.id,
      },
      attacker: {
        userId: anonymous.user.id,
        leadId: await leadIdOf(anonymous.user.id),
        socket: attackerSocket,
        conversationId: attackerStart.conversation.id,
      },
    };
  }

  /** Nothing of the victim's: not the name, phone, customer-vouched plan or the agent's notes. */
  function expectNothingOfTheVictims(view: VisitorLeadView) {
    const text = JSON.stringify(view);
    for (const secretValue of ['Victor', '555 0100', 'enterprise', '4242', 'internalNote', 'fraudFlag', 'plan']) {
      expect(text).not.toContain(secretValue);
    }
  }

  async function bothStillChat(victim: Party, attacker: Party, targetId: string) {
    for (const party of [victim, attacker]) {
      await ok(party.socket, 'message:send', {
        conversationId: party.conversationId,
        clientMessageId: `after-merge-${party.userId}`,
        text: 'still here',
      });
      const started = await ok<ConversationStartResult>(party.socket, 'conversation:start', { text: 'again' });
      expect(started.conversation.leadId).toBe(targetId);
    }
  }

  it("merging the attacker's contact into the victim's shows the attacker only its own entries", async () => {
    const { victim, attacker } = await victimAndAttacker('a');
    try {
      expect((await merge(victim.leadId, attacker.leadId)).status).toBe(200);

      // The attacker's next pre-chat submit shows what it typed, and nothing of the victim's.
      const seen = await update(attacker.socket, { attributes: { ref: 'newsletter' } });
      expectNothingOfTheVictims(seen);
      expect(seen).toEqual({
        id: victim.leadId,
        fullname: 'Mallory',
        email: `victim-a@corp.test`,
        attributes: { ref: 'newsletter' },
      });

      // Rewriting the victim's phone, vouched plan, name and the agent's notes changes none of them.
      await update(attacker.socket, {
        fullname: 'Owned',
        phone: '+1 555 6666',
        attributes: { plan: 'free', internalNote: 'all good', fraudFlag: true },
      });
      const { lead } = await contact(victim.leadId);
      expect(lead).toMatchObject({
        fullname: 'Victor Victim',
        email: 'victim-a@corp.test',
        phone: '+1 555 0100',
        attributes: { plan: 'enterprise', internalNote: 'card ending 4242', fraudFlag: false, ref: 'newsletter' },
      });
      // Agents see who entered what, including what the attacker typed and the contact kept apart.
      expect(lead.origins).toMatchObject({
        fullname: `customer:${victim.userId}`,
        phone: `visitor:${victim.userId}`,
        'attributes.internalNote': 'agent',
        'attributes.ref': `visitor:${attacker.userId}`,
      });
      expect(lead.keptApart).toEqual(
        expect.arrayContaining([
          { field: 'fullname', value: 'Owned', origin: `visitor:${attacker.userId}` },
          { field: 'phone', value: '+1 555 6666', origin: `visitor:${attacker.userId}` },
        ]),
      );

      // The victim does not see what the attacker typed, and cannot rewrite it either; its own
      // phone is still its own to change.
      const victimView = await update(victim.socket, { phone: '+1 555 0199', attributes: { ref: 'mine now' } });
      expect(victimView).toEqual({
        id: victim.leadId,
        fullname: 'Victor Victim',
        email: 'victim-a@corp.test',
        phone: '+1 555 0199',
        attributes: { plan: 'enterprise', ref: 'mine now' },
      });
      const after = (await contact(victim.leadId)).lead;
      expect(after.phone).toBe('+1 555 0199');
      expect(after.attributes['ref']).toBe('newsletter');
      expect(JSON.stringify(victimView)).not.toContain('Mallory');

      await bothStillChat(victim, attacker, victim.leadId);
    } finally {
      victim.socket.close();
      attacker.socket.close();
    }
  });

  it("merging the victim's contact into the attacker's shows each visitor only its own entries", async () => {
    const { victim, attacker } = await victimAndAttacker('b');
    try {
      expect((await merge(attacker.leadId, victim.leadId)).status).toBe(200);
      // The merge filled the attacker's contact with the victim's phone, plan and the agent's notes.
      const merged = (await contact(attacker.leadId)).lead;
      expect(merged).toMatchObject({ phone: '+1 555 0100', attributes: { plan: 'enterprise', fraudFlag: false } });

      const seen = await update(attacker.socket, { lastname: 'M.' });
      expectNothingOfTheVictims(seen);
      expect(seen).toEqual({
        id: attacker.leadId,
        fullname: 'Mallory',
        lastname: 'M.',
        email: 'victim-b@corp.test',
        attributes: { ref: 'ad-campaign' },
      });
      await update(attacker.socket, { phone: '+1 555 6666', attributes: { plan: 'free', internalNote: 'cleared' } });
      expect((await contact(attacker.leadId)).lead).toMatchObject({
        phone: '+1 555 0100',
        attributes: { plan: 'enterprise', internalNote: 'card ending 4242', fraudFlag: false },
      });

      // The merged-away victim still sees its own name, vouched plan and phone, not what the
      // attacker typed, and can still change its own phone on the contact.
      const victimView = await update(victim.socket, { phone: '+1 555 0199' });
      expect(victimView).toEqual({
        id: attacker.leadId,
        fullname: 'Victor Victim',
        email: 'victim-b@corp.test',
        phone: '+1 555 0199',
        attributes: { plan: 'enterprise' },
      });
      expect((await contact(attacker.leadId)).lead.phone).toBe('+1 555 0199');
      // What the customer vouched for stays unchangeable by the visitor after the merge too.
      const refused = await update(victim.socket, { fullname: 'Victor Changed' }).catch((e: Error) => e.message);
      expect(refused).toContain('FORBIDDEN');

      await bothStillChat(victim, attacker, attacker.leadId);
    } finally {
      victim.socket.close();
      attacker.socket.close();
    }
  });

  it('keeps attributes an agent set out of the visitor’s view and out of its reach', async () => {
    const anonymous = await anonymousVisitor(server.url, projectId);
    const socket = await connectVisitor(server.url, anonymous.token);
    try {
      await update(socket, { fullname: 'Vera', attributes: { source: 'ads' } });
      const leadId = await leadIdOf(anonymous.user.id);
      expect((await patch(leadId, { attributes: { fraudFlag: true, internalNote: 'chargeback x3' } })).status).toBe(
        200,
      );

      const seen = await update(socket, { attributes: { source: 'search' } });
      expect(seen).toEqual({ id: leadId, fullname: 'Vera', attributes: { source: 'search' } });

      await update(socket, { attributes: { fraudFlag: false, internalNote: null } });
      expect((await contact(leadId)).lead.attributes).toEqual({
        source: 'search',
        fraudFlag: true,
        internalNote: 'chargeback x3',
      });
      // An agent's change to a field the visitor entered makes it the agent's.
      expect((await patch(leadId, { fullname: 'Vera (VIP)' })).status).toBe(200);
      expect(await update(socket, { attributes: { source: 'mail' } })).toEqual({
        id: leadId,
        attributes: { source: 'mail', fraudFlag: false },
      });
      expect((await contact(leadId)).lead.fullname).toBe('Vera (VIP)');
    } finally {
      socket.close();
    }
  });
  it('treats attribute keys named like built-in object methods as ordinary keys, in the ack and in a merge', async () => {
    const builtIns = {
      hasOwnProperty: 'v1',
      toString: 'v2',
      valueOf: 'v3',
      __defineGetter__: 'v4',
      isPrototypeOf: 'v5',
    };
    const anonymous = await anonymousVisitor(server.url, projectId);
    const socket = await connectVisitor(server.url, anonymous.token);
    const other = await anonymousVisitor(server.url, projectId);
    const otherSocket = await connectVisitor(server.url, other.token);
    try {
      const seen = await update(socket, { attributes: { ...builtIns, plan: 'p' } });
      expect(seen.attributes).toEqual({ ...builtIns, plan: 'p' });
      const leadId = seen.id;
      const { lead } = await contact(leadId);
      expect(lead.attributes).toEqual({ ...builtIns, plan: 'p' });
      for (const key of [...Object.keys(builtIns), 'plan']) {
        expect(lead.origins?.[`attributes.${key}`]).toBe(`visitor:${anonymous.user.id}`);
      }

      // A merge fills the target's missing keys from the source, these names included, and keeps
      // apart the source visitor's value for a key the target holds already.
      const otherLead = await update(otherSocket, { fullname: 'Olga', attributes: { toString: 'o2' } });
      expect((await merge(otherLead.id, leadId)).status).toBe(200);
      expect((await contact(otherLead.id)).lead.attributes).toEqual({ ...builtIns, toString: 'o2', plan: 'p' });
      expect((await update(socket, { attributes: { plan: 'q' } })).attributes).toEqual({ ...builtIns, plan: 'q' });
      expect((await update(otherSocket, { fullname: 'Olga' })).attributes).toEqual({ toString: 'o2' });
    } finally {
      socket.close();
      otherSocket.close();
    }
  });

  it('finishes a merge that crashed after filling the target, without keeping anything apart twice', async () => {
    const { victim, attacker } = await victimAndAttacker('c');
    try {
      expect((await merge(victim.leadId, attacker.leadId)).status).toBe(200);
      const leads = database.db.collection('leads');
      const done = await leads.findOne({ _id: victim.leadId as never });
      expect(done?.['keptApart']).toEqual(
        expect.arrayContaining([{ field: 'fullname', value: 'Mallory', origin: `visitor:${attacker.userId}` }]),
      );
      // What a crash before step 4 leaves: the target filled, the source not yet marked merged.
      await leads.updateOne({ _id: attacker.leadId as never }, { $unset: { mergedInto: '' } });
      expect((await merge(victim.leadId, attacker.leadId)).status).toBe(200);
      const again = await leads.findOne({ _id: victim.leadId as never });
      expect(again?.['keptApart']).toEqual(done?.['keptApart']);
      expect(again?.['origins']).toEqual(done?.['origins']);
      expect(await update(attacker.socket, { lastname: 'M.' })).toEqual({
        id: victim.leadId,
        fullname: 'Mallory',
        lastname: 'M.',
        email: 'victim-c@corp.test',
        attributes: { ref: 'ad-campaign' },
      });
    } finally {
      victim.socket.close();
      attacker.socket.close();
    }
  });

  it('treats values stored before origins as the agents’, except what a verified sign-in vouched for', async () => {
    const userId = `cust-legacy-${Date.now()}`;
    const stamp = new Date();
    // A lead as stored before origins were recorded.
    await database.db.collection('leads').insertOne({
      _id: `legacy${Date.now()}` as never,
      projectId,
      userId,
      kind: 'verified',
      fullname: 'Old Name',
      email: 'legacy@corp.test',
      attributes: { internalNote: 'watch this one' },
      tags: [],
      searchKeys: ['old name', 'old', 'name', 'legacy@corp.test'],
      conversationCount: 0,
      rev: 3,
      createdAt: stamp,
      updatedAt: stamp,
      verifiedFields: ['email'],
    });
    const leadId = await leadIdOf(userId);
    const token = jwt.sign({ sub: userId, exp: now() + 300 }, secret);
    const signedIn = await api().post<VisitorAuthResponse>(`/v1/projects/${projectId}/auth/verified`, {
      body: { token },
    });
    const socket = await connectVisitor(server.url, signedIn.body.token);
    try {
      expect(await update(socket, { phone: '+1 555 0111' })).toEqual({
        id: leadId,
        email: 'legacy@corp.test',
        phone: '+1 555 0111',
        attributes: {},
      });
      expect(await update(socket, { fullname: 'New Name' })).toMatchObject({ fullname: 'New Name' });
      const { lead } = await contact(leadId);
      expect(lead).toMatchObject({ fullname: 'Old Name', phone: '+1 555 0111' });
      expect(lead.origins).toEqual({
        fullname: 'agent',
        email: `customer:${userId}`,
        phone: `visitor:${userId}`,
        'attributes.internalNote': 'agent',
      });
    } finally {
      socket.close();
    }
  });
});

import {
  cannedResponseCreateSchema,
  cannedResponseListQuerySchema,
  cannedResponsePatchSchema,
  conversationListQuerySchema,
  conversationReadSchema,
  conversationSnoozeSchema,
  isTemplateField,
  projectUpdateSchema,
  renderTemplate,
  templateFieldsOf,
} from '../src/schemas';

describe('workflow input schemas', () => {
  it('lists by the statuses of this version only, refusing the old ones', () => {
    for (const status of ['open', 'pending', 'snoozed', 'resolved'])
      expect(conversationListQuerySchema.safeParse({ status }).success).toBe(true);
    for (const status of ['assigned', 'closed', 'OPEN', 'waiting'])
      expect(conversationListQuerySchema.safeParse({ status }).success).toBe(false);
  });

  it('takes assignee me, none or an id, a team, and two sorts', () => {
    const parsed = conversationListQuerySchema.parse({ assignee: 'me', teamId: 'none', sort: 'oldest' });
    expect(parsed).toEqual({ assignee: 'me', teamId: 'none', sort: 'oldest' });
    expect(conversationListQuerySchema.safeParse({ sort: 'updatedAt' }).success).toBe(false);
    expect(conversationListQuerySchema.safeParse({ assignee: { $ne: null } }).success).toBe(false);
  });

  it('wants a snooze time with its zone', () => {
    expect(conversationSnoozeSchema.safeParse({ conversationId: 'c', until: '2030-01-01T09:00:00Z' }).success).toBe(
      true,
    );
    expect(
      conversationSnoozeSchema.safeParse({ conversationId: 'c', until: '2030-01-01T09:00:00+02:00' }).success,
    ).toBe(true);
    for (const until of ['2030-01-01', '2030-01-01T09:00:00', 'tomorrow', 1893488400000])
      expect(conversationSnoozeSchema.safeParse({ conversationId: 'c', until }).success).toBe(false);
  });

  it('reads from seq 1, whole numbers only', () => {
    expect(conversationReadSchema.safeParse({ conversationId: 'c', seq: 1 }).success).toBe(true);
    for (const seq of [0, -1, 1.5, '3', null])
      expect(conversationReadSchema.safeParse({ conversationId: 'c', seq }).success).toBe(false);
  });

  it('takes the reply setting of resolved conversations', () => {
    expect(projectUpdateSchema.safeParse({ resolvedConversationReply: 'new' }).success).toBe(true);
    expect(projectUpdateSchema.safeParse({ resolvedConversationReply: 'ignore' }).success).toBe(false);
  });
});

describe('canned responses', () => {
  it('lower-cases short codes and refuses spaces and symbols', () => {
    expect(cannedResponseCreateSchema.parse({ shortCode: ' Greet ', text: 'Hi' }).shortCode).toBe('greet');
    for (const shortCode of ['two words', '/greet', '', '-x', 'x'.repeat(51)])
      expect(cannedResponseCreateSchema.safeParse({ shortCode, text: 'Hi' }).success).toBe(false);
  });

  it('refuses a text with a field nobody fills in, naming it', () => {
    const result = cannedResponseCreateSchema.safeParse({ shortCode: 'x', text: 'Hi {{contact.nickname}}' });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toContain('{{contact.nickname}}');
    expect(
      cannedResponseCreateSchema.safeParse({
        shortCode: 'x',
        text: 'Hi {{ contact.fullname }}, {{contact.attributes.plan}}',
      }).success,
    ).toBe(true);
  });

  it('needs something in a patch, and a prefix of at most a short code', () => {
    expect(cannedResponsePatchSchema.safeParse({}).success).toBe(false);
    expect(cannedResponseListQuerySchema.parse({ q: 'GRE' }).q).toBe('gre');
  });

  it('renders known fields, and empties fields without a value', () => {
    const text = 'Hi {{contact.fullname}}, I am {{ agent.name }}. Plan: {{contact.attributes.plan}}.';
    expect(templateFieldsOf(text)).toEqual(['contact.fullname', 'agent.name', 'contact.attributes.plan']);
    expect(templateFieldsOf(text).every(isTemplateField)).toBe(true);
    expect(renderTemplate(text, { 'contact.fullname': 'Ada', 'agent.name': 'Ana' })).toBe('Hi Ada, I am Ana. Plan: .');
    // A value that looks like a field is not rendered again.
    expect(renderTemplate('{{contact.fullname}}', { 'contact.fullname': '{{agent.name}}', 'agent.name': 'x' })).toBe(
      '{{agent.name}}',
    );
  });
});

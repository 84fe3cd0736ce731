import {
  attributesSchema,
  conversationStartSchema,
  emailSchema,
  leadListQuerySchema,
  leadPatchSchema,
  leadUpdateSchema,
  messageSendSchema,
  verifiedClaimsSchema,
} from '../src/schemas';
import { ERROR_STATUS, isErrorCode, LIMITS } from '../src';

describe('input schemas', () => {
  it('normalizes email: trimmed and lower-cased', () => {
    expect(emailSchema.parse('  Ada@Example.COM ')).toBe('ada@example.com');
    expect(emailSchema.safeParse('not-an-email').success).toBe(false);
  });

  it('refuses unknown fields instead of dropping them', () => {
    const r = messageSendSchema.safeParse({ conversationId: 'c1', clientMessageId: 'm1', text: 'hi', extra: 1 });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.code).toBe('unrecognized_keys');
  });

  it.each([
    ['operator object where a string belongs', { conversationId: { $ne: 'x' }, clientMessageId: 'm', text: 'hi' }],
    ['null payload', null],
    ['number text', { conversationId: 'c', clientMessageId: 'm', text: 42 }],
    ['whitespace-only text', { conversationId: 'c', clientMessageId: 'm', text: '   ' }],
    ['spaces in clientMessageId', { conversationId: 'c', clientMessageId: 'a b', text: 'hi' }],
    ['over-long text', { conversationId: 'c', clientMessageId: 'm', text: 'x'.repeat(LIMITS.messageTextHardMax + 1) }],
  ])('refuses a message with %s', (_name, payload) => {
    expect(messageSendSchema.safeParse(payload).success).toBe(false);
  });

  it('bounds attributes: count, key shape, value size', () => {
    const many = Object.fromEntries(Array.from({ length: LIMITS.attributesMax + 1 }, (_, i) => [`k${i}`, i]));
    expect(attributesSchema.safeParse(many).success).toBe(false);
    expect(attributesSchema.safeParse({ $where: 'x' }).success).toBe(false);
    expect(attributesSchema.safeParse({ 'a.b': 'x' }).success).toBe(false);
    expect(attributesSchema.safeParse({ plan: 'x'.repeat(LIMITS.attributeValueMax + 1) }).success).toBe(false);
    expect(attributesSchema.safeParse({ plan: { nested: true } }).success).toBe(false);
    expect(attributesSchema.safeParse({ plan: 'pro', seats: 3, trial: false, gone: null }).success).toBe(true);
  });

  it('refuses __proto__ as an attribute key instead of dropping it', () => {
    const r = leadUpdateSchema.safeParse(JSON.parse('{"attributes":{"__proto__":{"polluted":true},"a":1}}'));
    expect(r.success).toBe(false);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(attributesSchema.safeParse(JSON.parse('{"constructor":1}')).success).toBe(false);
  });

  it('refuses text with lone surrogates, which the database would not store as sent', () => {
    expect(messageSendSchema.safeParse({ conversationId: 'c', clientMessageId: 'm', text: 'a\ud800b' }).success).toBe(
      false,
    );
    expect(leadUpdateSchema.safeParse({ fullname: 'Zo\udc00e' }).success).toBe(false);
    expect(attributesSchema.safeParse({ k: 'v\ud800' }).success).toBe(false);
    expect(attributesSchema.safeParse({ ['k\ud800']: 'v' }).success).toBe(false);
    // Pairs are fine: emoji and other astral characters.
    expect(messageSendSchema.safeParse({ conversationId: 'c', clientMessageId: 'm', text: 'hi 😀 𝄞' }).success).toBe(
      true,
    );
  });

  it('wants a few digits in a phone number', () => {
    for (const bad of ['()', '...', '-', '+1']) expect(leadUpdateSchema.safeParse({ phone: bad }).success).toBe(false);
    expect(leadUpdateSchema.safeParse({ phone: '+1 (555) 010-0100' }).success).toBe(true);
  });

  it('needs at least one field in a pre-chat form or patch', () => {
    expect(leadUpdateSchema.safeParse({}).success).toBe(false);
    expect(leadUpdateSchema.safeParse({ attributes: {} }).success).toBe(false);
    expect(leadPatchSchema.safeParse({}).success).toBe(false);
    expect(leadPatchSchema.safeParse({ attributes: {} }).success).toBe(false);
    expect(leadPatchSchema.parse({ attributes: { gone: null } }).attributes).toEqual({ gone: null });
    expect(leadPatchSchema.parse({ email: null }).email).toBeNull();
  });

  it('takes whole numbers from the query string and bounds the page size', () => {
    expect(leadListQuerySchema.parse({ page: '2', limit: '50' })).toEqual({ page: 2, limit: 50 });
    expect(leadListQuerySchema.safeParse({ limit: '101' }).success).toBe(false);
    expect(leadListQuerySchema.safeParse({ limit: '1e3' }).success).toBe(false);
    expect(leadListQuerySchema.safeParse({ 'email[$ne]': 'x' }).success).toBe(false);
  });

  it('refuses a clientMessageId without text at conversation start', () => {
    expect(conversationStartSchema.safeParse({ clientMessageId: 'm1' }).success).toBe(false);
    expect(conversationStartSchema.safeParse({ requestId: 'r1', text: 'hello', clientMessageId: 'm1' }).success).toBe(
      true,
    );
  });

  it('requires sub and exp in verified claims and ignores unknown claims', () => {
    expect(verifiedClaimsSchema.safeParse({ sub: 'u1' }).success).toBe(false);
    const claims = verifiedClaimsSchema.parse({ sub: 'u1', exp: 2_000_000_000, org: 'acme', email: 'A@B.co' });
    expect(claims).toEqual({ sub: 'u1', exp: 2_000_000_000, email: 'a@b.co' });
  });
});

describe('error codes', () => {
  it('maps every code to its HTTP status', () => {
    expect(ERROR_STATUS.RATE_LIMITED).toBe(429);
    expect(isErrorCode('NOT_FOUND')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
  });
});

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

  it('never lets __proto__ reach the prototype', () => {
    const parsed = leadUpdateSchema.parse(JSON.parse('{"attributes":{"__proto__":{"polluted":true},"a":1}}'));
    expect(Object.getPrototypeOf(parsed.attributes)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.keys(parsed.attributes ?? {})).toEqual(['a']);
  });

  it('needs at least one field in a pre-chat form or patch', () => {
    expect(leadUpdateSchema.safeParse({}).success).toBe(false);
    expect(leadPatchSchema.safeParse({}).success).toBe(false);
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

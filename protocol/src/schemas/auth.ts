import { z } from 'zod';
import { LIMITS } from '../limits';
import { attributesSchema, emailSchema, emptySchema, nameSchema, phoneSchema, tokenSchema } from './common';

export const anonymousAuthSchema = emptySchema;
export const refreshSchema = emptySchema;
export const verifiedAuthSchema = z.strictObject({ token: tokenSchema });

export const agentLoginSchema = z.strictObject({
  email: emailSchema,
  password: z.string().min(1).max(LIMITS.passwordMax),
});

/**
 * Claims of a verified-visitor token that a customer's backend signs. `sub` and `exp` are required;
 * profile claims are optional. Registered and custom claims beyond these are ignored, not refused:
 * the token is the customer's, and identity providers add claims of their own.
 */
export const verifiedClaimsSchema = z.object({
  sub: z.string().min(1).max(256),
  exp: z.number().int(),
  iat: z.number().int().optional(),
  email: emailSchema.optional(),
  fullname: nameSchema.optional(),
  lastname: nameSchema.optional(),
  phone: phoneSchema.optional(),
  attributes: attributesSchema.optional(),
});

export type AgentLoginInput = z.input<typeof agentLoginSchema>;
export type VerifiedAuthInput = z.input<typeof verifiedAuthSchema>;
export type VerifiedClaims = z.output<typeof verifiedClaimsSchema>;

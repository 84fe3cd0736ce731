import { z } from 'zod';
import { LIMITS } from '../limits';
import { emailSchema, nameSchema } from './common';

/** `https://example.com` or `http://localhost:8080`: scheme, host and optional port, nothing else. */
export const originSchema = z
  .string()
  .trim()
  .max(200)
  .regex(/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/, 'must be an origin such as https://example.com');

export const preChatFieldSchema = z.strictObject({
  name: z
    .string()
    .regex(
      /^(fullname|lastname|email|phone|attributes\.[A-Za-z0-9_-]{1,64})$/,
      'must be fullname, lastname, email, phone or attributes.<key>',
    ),
  label: nameSchema,
  type: z.enum(['text', 'email', 'tel', 'textarea']),
  required: z.boolean(),
});

export const preChatFormSchema = z.strictObject({
  enabled: z.boolean(),
  fields: z.array(preChatFieldSchema).max(LIMITS.preChatFieldsMax),
});

/** What a visitor's message into a resolved conversation does (see `ResolvedConversationReply`). */
export const resolvedConversationReplySchema = z.enum(['reopen', 'new']);

export const projectCreateSchema = z.strictObject({
  name: nameSchema,
  allowedOrigins: z.array(originSchema).max(LIMITS.allowedOriginsMax).optional(),
  preChatForm: preChatFormSchema.optional(),
  resolvedConversationReply: resolvedConversationReplySchema.optional(),
});

/** Extension: change a project's name, origins, pre-chat form or workflow settings. */
export const projectUpdateSchema = z
  .strictObject({
    name: nameSchema.optional(),
    allowedOrigins: z.array(originSchema).max(LIMITS.allowedOriginsMax).optional(),
    preChatForm: preChatFormSchema.optional(),
    resolvedConversationReply: resolvedConversationReplySchema.optional(),
  })
  .refine((v) => Object.values(v).some((x) => x !== undefined), 'must set at least one field');

export const agentCreateSchema = z.strictObject({
  email: emailSchema,
  password: z.string().min(LIMITS.passwordMin).max(LIMITS.passwordMax),
  name: nameSchema,
  role: z.enum(['owner', 'agent']).optional(),
});

/** Extension: change an agent's role or name (admin API, and owners of the project). */
export const agentUpdateSchema = z
  .strictObject({
    name: nameSchema.optional(),
    role: z.enum(['owner', 'agent']).optional(),
  })
  .refine((v) => Object.values(v).some((x) => x !== undefined), 'must set at least one field');

/** Extension: an admin or an owner sets an agent's password (the agent is signed out everywhere). */
export const agentPasswordResetSchema = z.strictObject({
  password: z.string().min(LIMITS.passwordMin).max(LIMITS.passwordMax),
});

/** Extension: an agent changes its own password, proving the current one. */
export const agentPasswordChangeSchema = z.strictObject({
  currentPassword: z.string().min(1).max(LIMITS.passwordMax),
  newPassword: z.string().min(LIMITS.passwordMin).max(LIMITS.passwordMax),
});

export type ProjectCreateInput = z.input<typeof projectCreateSchema>;
export type ProjectUpdateInput = z.input<typeof projectUpdateSchema>;
export type AgentCreateInput = z.input<typeof agentCreateSchema>;
export type AgentUpdateInput = z.input<typeof agentUpdateSchema>;
export type AgentPasswordResetInput = z.input<typeof agentPasswordResetSchema>;
export type AgentPasswordChangeInput = z.input<typeof agentPasswordChangeSchema>;

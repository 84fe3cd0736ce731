import type {
  ConversationStartResult,
  WebhookCreatedResponse,
  WebhookDeliveryPage,
  WebhookEventFilter,
} from '@parley/protocol';
import { anonymousVisitor } from './fixtures';
import { client } from './http';
import { connectVisitor, ok, type VisitorClientSocket } from './sockets';
import { waitFor } from './wait';

/** Creates a webhook through the REST API (answers once every node records for it). */
export async function createWebhook(
  url: string,
  projectId: string,
  token: string,
  target: string,
  events: WebhookEventFilter[] = ['*'],
): Promise<WebhookCreatedResponse> {
  const res = await client(url).post<WebhookCreatedResponse>(`/v1/projects/${projectId}/webhooks`, {
    token,
    body: { url: target, events },
  });
  if (res.status !== 201) throw new Error(`create webhook: ${res.status} ${res.text}`);
  return res.body;
}

export async function deliveriesOf(
  url: string,
  projectId: string,
  token: string,
  webhookId: string,
  query = '',
): Promise<WebhookDeliveryPage> {
  const res = await client(url).get<WebhookDeliveryPage>(
    `/v1/projects/${projectId}/webhooks/${webhookId}/deliveries${query}`,
    { token },
  );
  if (res.status !== 200) throw new Error(`deliveries: ${res.status} ${res.text}`);
  return res.body;
}

/** Waits until no delivery of the webhook is pending (all delivered or failed). */
export function settledDeliveries(
  url: string,
  projectId: string,
  token: string,
  webhookId: string,
  timeoutMs = 60_000,
) {
  return waitFor(
    'every delivery to be settled',
    async () => {
      const page = await deliveriesOf(url, projectId, token, webhookId, '?status=pending&limit=1');
      return page.items.length === 0;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** A visitor with a conversation started: its lead and its conversation exist. */
export async function visitorWithConversation(
  url: string,
  projectId: string,
  text?: string,
): Promise<{ socket: VisitorClientSocket; conversationId: string; userId: string }> {
  const auth = await anonymousVisitor(url, projectId);
  const socket = await connectVisitor(url, auth.token);
  const started = await ok<ConversationStartResult>(socket, 'conversation:start', text ? { text } : {});
  return { socket, conversationId: started.conversation.id, userId: auth.user.id };
}

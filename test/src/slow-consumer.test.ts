import type { Socket } from 'socket.io-client';
import { anonymousVisitor, createAgent, createProject } from './support/fixtures';
import { metricValue } from './support/metric-value';
import { startParley, type ParleyProcess } from './support/parley-process';
import { connectAgent, connectVisitor, ok } from './support/sockets';
import { waitFor } from './support/wait';

/** The limit the server runs with here: small, so that a few MB of pushes cross it many times. */
const LIMIT = 256 * 1024;
/** Long messages fill buffers fast: each push is about 16 KB. */
const TEXT = 'x'.repeat(16_000);
const MESSAGES = 400;
/** Messages sent at once: the pushes of one group commit reach a socket in one go. */
const BATCH = 20;

/**
 * The client's WebSocket stops reading from its TCP connection: the kernel's buffers fill, then
 * everything the server sends waits in the server's memory. The socket stays open and answers
 * nothing, exactly like a browser tab on a stalled network or a client that reads on purpose slowly.
 */
function stopReading(socket: Socket): { resume(): void } {
  const transport = socket.io.engine.transport as unknown as { name: string; ws?: { pause(): void; resume(): void } };
  if (transport.name !== 'websocket' || !transport.ws) throw new Error('not on a WebSocket');
  const ws = transport.ws;
  ws.pause();
  return { resume: () => ws.resume() };
}

/** Message ids pushed to `socket` (`message.created`), counted once each. */
function receivedMessages(socket: Socket): Set<string> {
  const seen = new Set<string>();
  socket.on('message.created' as never, ({ message }: { message: { id: string } }) => {
    seen.add(message.id);
  });
  return seen;
}

describe('a socket that stops reading (slow consumer)', () => {
  let server: ParleyProcess;
  beforeAll(async () => {
    server = await startParley({
      env: { SOCKET_SEND_BUFFER_LIMIT: String(LIMIT), MESSAGE_MAX_LENGTH: '16000' },
    });
  });
  afterAll(async () => {
    await server.stop();
    server.cleanup();
  });

  it('is disconnected once what waits for it passes the limit; its neighbours in the same rooms get everything', async () => {
    const { project } = await createProject(server.url);
    const agent = await createAgent(server.url, project.id);
    const visitor = await anonymousVisitor(server.url, project.id);

    // Readers that keep up: the visitor's own tab and an agent console of the project.
    const visitorTab = await connectVisitor(server.url, visitor.token);
    const console_ = await connectAgent(server.url, agent.token);
    // Readers that stall: another tab of the same visitor and another console of the same agent.
    // The console reconnects by itself (as the SDK does), recovering what it missed.
    const stalledTab = await connectVisitor(server.url, visitor.token);
    const stalledConsole = await connectAgent(server.url, agent.token, { reconnection: true });
    const sockets = [visitorTab, console_, stalledTab, stalledConsole];
    try {
      const inTab = receivedMessages(visitorTab);
      const inConsole = receivedMessages(console_);
      const inStalledTab = receivedMessages(stalledTab);
      const inStalledConsole = receivedMessages(stalledConsole);
      let stalledTabDropped = false;
      stalledTab.on('disconnect', () => (stalledTabDropped = true));
      let consoleDrops = 0;
      stalledConsole.on('disconnect', () => consoleDrops++);

      const { conversation } = await ok<{ conversation: { id: string } }>(visitorTab, 'conversation:start', {});
      const stalls = [stopReading(stalledTab), stopReading(stalledConsole)];

      // A busy conversation: about 6.4 MB pushed to each socket of the visitor and of the project.
      for (let i = 0; i < MESSAGES; i += BATCH) {
        await Promise.all(
          Array.from({ length: BATCH }, (_, j) =>
            ok(visitorTab, 'message:send', {
              conversationId: conversation.id,
              clientMessageId: `m${i + j}`,
              text: TEXT,
            }),
          ),
        );
      }
      await waitFor('the reading sockets to have every message', () =>
        inTab.size === MESSAGES && inConsole.size === MESSAGES ? true : undefined,
      );
      // Once they read again they find the connection closed, having got only part of it.
      for (const stall of stalls) stall.resume();
      await waitFor('the stalled tab to find itself disconnected', () => stalledTabDropped);
      expect(inStalledTab.size).toBeLessThan(MESSAGES);
      // The server cut both, and at no moment did one have more waiting than the limit plus what
      // was sent to it in one go (a batch of pushes).
      expect(await metricValue(server.url, 'parley_slow_consumer_disconnects_total')).toBe(2);
      const peak = await metricValue(server.url, 'parley_socket_send_buffer_peak_bytes');
      expect(peak).toBeGreaterThan(LIMIT);
      expect(peak).toBeLessThanOrEqual(LIMIT + 2 * BATCH * (TEXT.length + 1024));
      await waitFor('the stalled console to have been dropped', () => consoleDrops > 0);
      // The console comes back within the recovery window and is given what it missed.
      await waitFor('the console to recover every message', () =>
        stalledConsole.connected && inStalledConsole.size === MESSAGES ? true : undefined,
      );
      expect(stalledConsole.recovered).toBe(true);
    } finally {
      for (const socket of sockets) socket.close();
    }
  }, 90_000);

  it('is disconnected on HTTP long-polling too, once what waits for its next poll passes the limit', async () => {
    const { project } = await createProject(server.url);
    const visitor = await anonymousVisitor(server.url, project.id);
    const tab = await connectVisitor(server.url, visitor.token);
    // Another tab of the same visitor, on long-polling by hand: it connects, takes the answer to
    // that, and never polls again, so what the server has for it waits in engine.io's write buffer.
    const opened = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`);
    const { sid } = JSON.parse((await opened.text()).slice(1)) as { sid: string };
    const poll = `${server.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    const connect = `40/visitor,${JSON.stringify({ token: visitor.token })}`;
    expect(await (await fetch(poll, { method: 'POST', body: connect })).text()).toBe('ok');
    expect(await (await fetch(poll)).text()).toContain('40/visitor,');
    try {
      const before = (await metricValue(server.url, 'parley_slow_consumer_disconnects_total')) ?? 0;
      const { conversation } = await ok<{ conversation: { id: string } }>(tab, 'conversation:start', {});
      let sent = 0;
      await waitFor('the silent long-polling tab to be cut', async () => {
        if (((await metricValue(server.url, 'parley_slow_consumer_disconnects_total')) ?? 0) > before) return true;
        // Each message is pushed to both tabs; a few past the limit are enough.
        if (sent >= 2 * (LIMIT / TEXT.length)) return false;
        await Promise.all(
          Array.from({ length: BATCH }, () =>
            ok(tab, 'message:send', { conversationId: conversation.id, clientMessageId: `p${sent++}`, text: TEXT }),
          ),
        );
        return false;
      });
      // Its session is gone: a poll now is for an unknown session.
      expect((await fetch(poll)).status).toBe(400);
      expect(tab.connected).toBe(true);
    } finally {
      tab.close();
    }
  }, 60_000);
});

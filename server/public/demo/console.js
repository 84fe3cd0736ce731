/* global document, window, location, setTimeout, clearTimeout, Parley */
// An agent console on the SDK's browser bundle: sign in, search contacts, watch the project live,
// open a contact and its conversations, reply. The SDK keeps the lists ordered and complete.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const show = (id, visible) => $(id).classList.toggle('hidden', !visible);
  const EMAIL = /^\S+@\S+\.\S+$/;

  let client;
  let query = '';
  let openLeadId;
  let openConversationId;
  /** The open contact's conversations by id, kept current by live events. */
  const conversations = new Map();

  function showError(where, error) {
    $(where).textContent = error ? `${error.message}${error.code ? ` (${error.code})` : ''}` : '';
  }

  function element(tag, text, attributes = {}) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    for (const [key, value] of Object.entries(attributes)) node.dataset[key] = value;
    return node;
  }

  const leadName = (lead) =>
    [lead.fullname, lead.lastname].filter(Boolean).join(' ') || lead.email || 'Anonymous visitor';

  function logEvent(text) {
    const list = $('events');
    list.prepend(element('li', `${new Date().toLocaleTimeString()} ${text}`));
    while (list.children.length > 50) list.lastChild.remove();
  }

  // ---- contacts ----

  async function search() {
    // A whole email address matches exactly (every contact with it); anything else is a prefix search.
    const page = await client.leads.search(EMAIL.test(query) ? { email: query } : query ? { q: query } : {});
    $('contacts-total').textContent = `${page.total} contact${page.total === 1 ? '' : 's'}`;
    $('contacts').replaceChildren(
      ...page.items.map((lead) => {
        const item = element('li', leadName(lead), { leadId: lead.id });
        item.append(
          element('small', `${lead.email || 'no email'} · ${lead.conversationCount} conversation(s) · ${lead.kind}`),
        );
        if (lead.id === openLeadId) item.classList.add('selected');
        item.addEventListener('click', () => void openContact(lead.id));
        return item;
      }),
    );
  }

  async function openContact(leadId) {
    openLeadId = leadId;
    showError('contact-error');
    const { lead, conversations: list } = await client.leads.get(leadId);
    for (const item of $('contacts').children) item.classList.toggle('selected', item.dataset.leadId === leadId);
    show('contact-empty', false);
    show('contact', true);
    $('contact-name').textContent = leadName(lead);
    const fields = [
      ['Email', lead.email],
      ['Phone', lead.phone],
      ['Kind', lead.kind],
      ['Tags', lead.tags.join(', ')],
      ...Object.entries(lead.attributes).map(([key, value]) => [key, String(value)]),
    ].filter(([, value]) => value);
    $('contact-fields').replaceChildren(
      ...fields.flatMap(([key, value]) => [element('dt', key), element('dd', value)]),
    );
    conversations.clear();
    for (const conversation of list) conversations.set(conversation.id, conversation);
    renderConversations();
  }

  function renderConversations() {
    $('conversations').replaceChildren(
      ...[...conversations.values()].map((conversation) => {
        const last = conversation.lastMessage ? conversation.lastMessage.text : 'no message yet';
        const item = element('li', `${conversation.status} · ${conversation.messageCount} message(s)`, {
          conversationId: conversation.id,
        });
        item.append(element('small', last));
        if (conversation.id === openConversationId) item.classList.add('selected');
        item.addEventListener('click', () => void openConversation(conversation.id));
        return item;
      }),
    );
  }

  // ---- one conversation ----

  async function openConversation(conversationId) {
    // The client holds the lists of the conversations the console shows: let go of the last one.
    if (openConversationId && openConversationId !== conversationId) client.conversations.release(openConversationId);
    openConversationId = conversationId;
    renderConversations();
    show('conversation', true);
    renderMeta();
    $('typing').textContent = '';
    renderMessages(await client.conversations.history(conversationId));
    $('reply-text').focus();
  }

  function renderMeta() {
    const conversation = conversations.get(openConversationId);
    if (!conversation) return;
    const assignee = conversation.assigneeId === client.agent.id ? 'you' : conversation.assigneeId || 'nobody';
    $('conversation-meta').textContent = `${conversation.status} · assigned to ${assignee}`;
  }

  function renderMessages(messages) {
    const list = $('messages');
    list.replaceChildren(
      ...messages.map((message) => {
        const item = element('li', message.text, {
          clientMessageId: message.clientMessageId,
          status: message.status,
          role: message.sender.role,
        });
        if (message.sender.role === 'agent') item.classList.add('mine');
        const note =
          message.status === 'pending'
            ? 'sending…'
            : message.status === 'failed'
              ? `not sent: ${message.error ? message.error.message : ''}`
              : `${message.sender.name || message.sender.role} · #${message.seq}`;
        item.append(element('small', note));
        if (message.status === 'failed') {
          // Send it again (same clientMessageId, so never twice), or drop it.
          const retry = element('button', 'Retry');
          retry.type = 'button';
          retry.className = 'link';
          retry.addEventListener('click', () => void client.conversations.retry(message));
          const discard = element('button', 'Delete');
          discard.type = 'button';
          discard.className = 'link';
          discard.addEventListener('click', () => client.conversations.discard(message));
          item.append(retry, discard);
        }
        return item;
      }),
    );
    list.scrollTop = list.scrollHeight;
  }

  $('reply').addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = $('reply-text').value.trim();
    const conversationId = openConversationId;
    if (!text || !conversationId) return;
    $('reply-text').value = '';
    showError('contact-error');
    try {
      client.conversations.setTyping(conversationId, false);
      // Replying takes the conversation: the agent becomes its assignee.
      if (conversations.get(conversationId)?.assigneeId !== client.agent.id) {
        conversations.set(conversationId, await client.conversations.join(conversationId));
        renderMeta();
      }
      // Pending at once, then sent; a refusal shows as failed in the list (with Retry).
      void client.conversations.send(conversationId, text);
    } catch (error) {
      showError('contact-error', error);
    }
  });
  $('reply-text').addEventListener('input', () => {
    if (openConversationId) client.conversations.setTyping(openConversationId, $('reply-text').value.length > 0);
  });
  $('resolve-conversation').addEventListener('click', async () => {
    try {
      if (openConversationId) await client.conversations.resolve(openConversationId);
    } catch (error) {
      showError('contact-error', error);
    }
  });

  // ---- live ----

  let refreshTimer;
  /** Many events can arrive at once (a merge, a busy project): reload the lists once for all of them. */
  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => {
      try {
        await search();
        if (openLeadId) await openContact(openLeadId);
        renderMeta();
      } catch (error) {
        showError('contact-error', error);
      }
    }, 150);
  }

  let typingTimer;
  function listen() {
    client.on('status', (status) => {
      $('status').textContent = status;
      $('status').dataset.status = status;
    });
    client.on('error', (error) => showError('contact-error', error));
    client.on('lead.created', ({ lead }) => {
      logEvent(`new contact: ${leadName(lead)}`);
      refreshSoon();
    });
    client.on('lead.updated', ({ lead, changes }) => {
      logEvent(`${leadName(lead)} changed ${changes.join(', ')}`);
      refreshSoon();
    });
    client.on('lead.merged', ({ lead, mergedLeadIds }) => {
      logEvent(`${mergedLeadIds.length} contact(s) merged into ${leadName(lead)}`);
      if (mergedLeadIds.includes(openLeadId)) openLeadId = lead.id;
      refreshSoon();
    });
    client.on('lead.deleted', ({ leadId }) => {
      logEvent('a contact was erased');
      if (leadId === openLeadId) {
        openLeadId = undefined;
        show('contact', false);
        show('contact-empty', true);
      }
      refreshSoon();
    });
    client.on('conversation.created', ({ lead }) => {
      logEvent(`new conversation${lead ? ` with ${leadName(lead)}` : ''}`);
      refreshSoon();
    });
    client.on('conversation.updated', ({ conversation }) => {
      if (conversations.has(conversation.id)) conversations.set(conversation.id, conversation);
      renderConversations();
      renderMeta();
    });
    client.on('message.created', ({ message }) => {
      logEvent(`${message.sender.name || message.sender.role}: ${message.text}`);
      refreshSoon();
    });
    // The ordered, de-duplicated list of a conversation changed (live, acked, caught up, failed).
    client.on('message', (event) => {
      if (event.conversationId === openConversationId) renderMessages(event.messages);
    });
    client.on('typing', (event) => {
      if (event.conversationId !== openConversationId || event.sender.role !== 'visitor') return;
      $('typing').textContent = event.typing ? 'The visitor is typing…' : '';
      clearTimeout(typingTimer);
      if (event.typing) typingTimer = setTimeout(() => ($('typing').textContent = ''), 8000);
    });
    // Events were missed and could not be replayed (a long outage, a restarted server).
    client.on('reload', () => {
      logEvent('reconnected: reloading lists');
      refreshSoon();
      if (openConversationId) void openConversation(openConversationId);
    });
  }

  $('login').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = $('login').elements;
    showError('login-error');
    const candidate = Parley.createAgentClient({
      url: location.origin,
      email: form.email.value.trim(),
      password: form.password.value,
    });
    try {
      await candidate.ready;
    } catch (error) {
      candidate.close();
      showError('login-error', error);
      return;
    }
    client = candidate;
    // For tests and for poking around in the browser's console.
    window.parleyConsole = { client };
    listen();
    $('status').textContent = client.status;
    $('status').dataset.status = client.status;
    $('me').textContent = `· ${client.agent.name}`;
    show('login', false);
    show('app', true);
    await search();
  });

  $('search').addEventListener('submit', (event) => {
    event.preventDefault();
    query = $('search').elements.q.value.trim();
    void search().catch((error) => showError('contact-error', error));
  });
})();

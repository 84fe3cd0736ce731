/* global document, window, location, URLSearchParams, setTimeout, clearTimeout, Parley */
// A visitor widget on the SDK's browser bundle: pre-chat form, messages, typing. The SDK does the
// hard parts (sign-in, token in localStorage, reconnects, retries, ordering); this file only draws.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const show = (id, visible) => $(id).classList.toggle('hidden', !visible);
  const projectId = new URLSearchParams(location.search).get('project');

  if (!projectId) {
    show('setup', true);
    $('setup').addEventListener('submit', (event) => {
      event.preventDefault();
      location.search = `?project=${encodeURIComponent($('setup').elements.project.value.trim())}`;
    });
    $('status').textContent = 'no project';
    return;
  }

  const client = Parley.createVisitorClient({ url: location.origin, projectId });
  /** The conversation on screen; started with the first message. */
  let conversation;
  // For tests and for poking around in the browser's console.
  window.parleyWidget = {
    client,
    get conversation() {
      return conversation;
    },
  };

  function showError(where, error) {
    $(where).textContent = error ? `${error.message}${error.code ? ` (${error.code})` : ''}` : '';
  }

  client.on('status', (status) => {
    $('status').textContent = status;
    $('status').dataset.status = status;
  });
  client.on('error', (error) => showError('chat-error', error));
  client.on('message', (event) => {
    if (conversation && event.conversationId === conversation.id) renderMessages(event.messages);
  });

  let typingTimer;
  client.on('typing', (event) => {
    if (!conversation || event.conversationId !== conversation.id || event.sender.role === 'visitor') return;
    $('typing').textContent = event.typing ? `${event.sender.name || 'An agent'} is typing…` : '';
    // A "stopped typing" can be lost with a dropped connection: never show the indicator forever.
    clearTimeout(typingTimer);
    if (event.typing) typingTimer = setTimeout(() => ($('typing').textContent = ''), 8000);
  });

  function renderMessages(messages) {
    const me = client.user && client.user.id;
    const list = $('messages');
    list.replaceChildren(
      ...messages.map((message) => {
        const item = document.createElement('li');
        // Pending and stored versions of one message share clientMessageId: one item, updated in place.
        item.dataset.clientMessageId = message.clientMessageId;
        item.dataset.status = message.status;
        if (message.sender.id === me) item.classList.add('mine');
        item.textContent = message.text;
        const who = message.sender.id === me ? 'You' : message.sender.name || 'Support';
        const note = document.createElement('small');
        if (message.status === 'pending') note.textContent = 'sending…';
        else if (message.status === 'failed')
          note.textContent = `not sent: ${message.error ? message.error.message : ''}`;
        else note.textContent = `${who} · ${new Date(message.createdAt).toLocaleTimeString()}`;
        item.append(note);
        if (message.status === 'failed') item.append(...failedActions(message));
        return item;
      }),
    );
    list.scrollTop = list.scrollHeight;
  }

  /** Send a failed message again (same clientMessageId, so never twice), or drop it. */
  function failedActions(message) {
    const retry = document.createElement('button');
    retry.type = 'button';
    retry.className = 'link';
    retry.textContent = 'Retry';
    // Its progress (pending, then sent or failed again) arrives through the 'message' event.
    retry.addEventListener('click', () => void conversation.retry(message));
    const discard = document.createElement('button');
    discard.type = 'button';
    discard.className = 'link';
    discard.textContent = 'Delete';
    discard.addEventListener('click', () => conversation.discard(message));
    return [retry, discard];
  }

  /** The project's pre-chat fields, or a name and an email when it defines none. */
  function prechatFields(config) {
    if (config.preChatForm.enabled && config.preChatForm.fields.length > 0) return config.preChatForm.fields;
    return [
      { name: 'fullname', label: 'Your name', type: 'text', required: false },
      { name: 'email', label: 'Email', type: 'email', required: false },
    ];
  }

  function showPrechat(config) {
    const fields = prechatFields(config);
    $('prechat-fields').replaceChildren(
      ...fields.map((field) => {
        const label = document.createElement('label');
        label.textContent = field.label;
        const input = document.createElement(field.type === 'textarea' ? 'textarea' : 'input');
        if (field.type !== 'textarea') input.type = field.type;
        input.name = field.name;
        input.required = field.required;
        label.append(input);
        return label;
      }),
    );
    show('prechat-skip', !fields.some((f) => f.required));
    show('prechat', true);
  }

  function showChat() {
    show('prechat', false);
    show('chat', true);
    $('text').focus();
  }

  $('prechat').addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = { attributes: {} };
    for (const element of $('prechat').querySelectorAll('input, textarea')) {
      const value = element.value.trim();
      if (!value) continue;
      if (element.name.startsWith('attributes.')) input.attributes[element.name.slice(11)] = value;
      else input[element.name] = value;
    }
    if (Object.keys(input.attributes).length === 0) delete input.attributes;
    showError('prechat-error');
    try {
      if (Object.keys(input).length > 0) await client.submitPreChatForm(input);
      showChat();
    } catch (error) {
      showError('prechat-error', error);
    }
  });
  $('prechat-skip').addEventListener('click', showChat);

  $('composer').addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = $('text').value.trim();
    if (!text) return;
    $('text').value = '';
    showError('chat-error');
    try {
      if (!conversation) {
        // The first message goes out with the conversation: pending at once, then sent or failed.
        conversation = await client.startConversation({ text, attributes: { page: location.pathname } });
        renderMessages(conversation.messages);
        return;
      }
      conversation.setTyping(false);
      // Shows at once as pending (through the 'message' event); a refusal shows as failed, in the list.
      void conversation.send(text);
    } catch (error) {
      showError('chat-error', error);
    }
  });
  $('text').addEventListener('input', () => conversation && conversation.setTyping($('text').value.length > 0));

  async function start() {
    try {
      const config = await client.getWidgetConfig();
      $('title').textContent = `Chat with ${config.name}`;
      await client.ready;
      // Back on the page (same localStorage, same visitor): carry on with the latest conversation.
      const [latest] = await client.conversations();
      if (latest) {
        conversation = latest;
        renderMessages(await latest.history());
        showChat();
      } else {
        showPrechat(config);
      }
    } catch (error) {
      show('chat', true);
      showError('chat-error', error);
    }
  }
  void start();
})();

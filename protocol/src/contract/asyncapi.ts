/**
 * The AsyncAPI 3.0 document of both Socket.IO namespaces, generated from `SOCKET_NAMESPACES` and
 * the zod schemas by zod-openapi's `createSchema` (plain JSON Schema, AsyncAPI's default payload
 * format). Each namespace is one channel; a command is a `send` operation whose reply is its ack, a push a `receive` operation.
 */
import { z } from 'zod';
import { createSchema } from 'zod-openapi';
import { ackSchema } from '../schemas';
import { PROTOCOL_VERSION } from '../version';
import { SCHEMA_OPTIONS } from './schema-options';
import { SOCKET_NAMESPACES, type NamespaceDoc } from './socket-events';

type Json = Record<string, unknown>;

export interface AsyncApiDocument {
  asyncapi: '3.0.0';
  info: Json;
  defaultContentType: string;
  servers: Json;
  channels: Record<string, Json>;
  operations: Record<string, Json>;
  components: { schemas: Record<string, unknown> };
}

/** `conversation:start` → `conversationStart`: AsyncAPI keys allow letters, digits, `_` and `-`. */
function key(...parts: string[]): string {
  return parts
    .flatMap((part) => part.split(/[^A-Za-z0-9]+/))
    .filter(Boolean)
    .map((word, i) => (i === 0 ? word : word[0]!.toUpperCase() + word.slice(1)))
    .join('');
}

export function buildAsyncApiDocument(namespaces: readonly NamespaceDoc[] = SOCKET_NAMESPACES): AsyncApiDocument {
  const components: Record<string, unknown> = {};
  const schemaOf = (schema: z.ZodType, io: 'input' | 'output') => {
    const result = createSchema(schema, { io, schemaRefPath: '#/components/schemas/', opts: SCHEMA_OPTIONS });
    Object.assign(components, result.components);
    return result.schema;
  };

  const channels: AsyncApiDocument['channels'] = {};
  const operations: AsyncApiDocument['operations'] = {};
  for (const ns of namespaces) {
    const channel = key(ns.path);
    const messages: Record<string, Json> = {};
    for (const [name, command] of Object.entries(ns.commands)) {
      const id = key(name);
      messages[id] = { name, title: name, summary: command.summary, payload: schemaOf(command.input, 'input') };
      messages[`${id}Ack`] = {
        name: `${name} ack`,
        title: `${name} ack`,
        summary: 'The acknowledgement: `{ ok: true, data }` or `{ ok: false, error }`.',
        payload: schemaOf(ackSchema(command.result), 'output'),
      };
      operations[key(channel, name)] = {
        action: 'send',
        title: name,
        summary: command.summary,
        channel: { $ref: `#/channels/${channel}` },
        messages: [{ $ref: `#/channels/${channel}/messages/${id}` }],
        reply: {
          channel: { $ref: `#/channels/${channel}` },
          messages: [{ $ref: `#/channels/${channel}/messages/${id}Ack` }],
        },
      };
    }
    for (const [name, push] of Object.entries(ns.pushes)) {
      // A push and a command may share a name (`typing`): the push's message key says it is one.
      const id = key(name, 'push');
      messages[id] = { name, title: name, summary: push.summary, payload: schemaOf(push.payload, 'output') };
      operations[key(channel, name, 'push')] = {
        action: 'receive',
        title: name,
        summary: push.summary,
        channel: { $ref: `#/channels/${channel}` },
        messages: [{ $ref: `#/channels/${channel}/messages/${id}` }],
      };
    }
    channels[channel] = { address: ns.path, title: `Namespace ${ns.path}`, description: ns.description, messages };
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Parley realtime API',
      version: String(PROTOCOL_VERSION),
      description:
        "Socket.IO namespaces `/visitor` and `/agent` on the server's HTTP port. Connect with " +
        '`auth: { token }`. Commands (`noun:verb`) are emitted with `(payload, ack)` and acknowledged ' +
        'with `{ ok: true, data }` or `{ ok: false, error }`; pushes (`noun.verb`) come from the server.',
      license: { name: 'MIT' },
    },
    defaultContentType: 'application/json',
    servers: {
      parley: {
        host: '{host}',
        protocol: 'ws',
        description: 'Socket.IO (engine.io over WebSocket or HTTP long-polling) at `/socket.io/`.',
        variables: { host: { default: 'localhost:3000' } },
      },
    },
    channels,
    operations,
    components: { schemas: components },
  };
}

import { AGENT_COMMANDS, AGENT_NAMESPACE, VISITOR_NAMESPACE } from '../src';
import { COMMAND_SCHEMAS, commandSchema, messageSendSchema, typingSchema } from '../src/schemas';

describe('command map', () => {
  it('lists at run time the same /agent commands as its schemas', () => {
    expect([...AGENT_COMMANDS].sort()).toEqual(Object.keys(COMMAND_SCHEMAS[AGENT_NAMESPACE]).sort());
  });

  it("looks up each command's own schema", () => {
    expect(commandSchema(VISITOR_NAMESPACE, 'message:send')).toBe(messageSendSchema);
    expect(commandSchema(AGENT_NAMESPACE, 'typing')).toBe(typingSchema);
  });

  it('refuses a command the namespace does not have', () => {
    // A visitor command on /agent: only reachable from untyped code.
    expect(() => commandSchema(AGENT_NAMESPACE, 'lead:update' as 'typing')).toThrow('No command lead:update on /agent');
    expect(() => commandSchema(AGENT_NAMESPACE, 'toString' as 'typing')).toThrow('No command toString on /agent');
  });
});

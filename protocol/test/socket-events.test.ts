import { SOCKET_NAMESPACES } from '../src/contract';
import { COMMAND_SCHEMAS } from '../src/schemas';

describe('the AsyncAPI event table', () => {
  it("documents each command of the map with the map's own input schema, in the map's order", () => {
    expect(SOCKET_NAMESPACES.map((ns) => ns.path)).toEqual(Object.keys(COMMAND_SCHEMAS));
    for (const ns of SOCKET_NAMESPACES) {
      const schemas = COMMAND_SCHEMAS[ns.path];
      expect(Object.keys(ns.commands)).toEqual(Object.keys(schemas));
      for (const [name, schema] of Object.entries(schemas)) expect(ns.commands[name]?.input).toBe(schema);
    }
  });
});

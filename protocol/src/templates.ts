/**
 * The fields a canned response's text may hold, written `{{contact.fullname}}` (spaces inside the
 * braces allowed). Pure functions without dependencies, so that the server (which renders) and the
 * schemas (which refuse unknown fields when a response is saved) share one definition; exported
 * with the schemas (`@parley/protocol/schemas`), so browser bundles of the main entry go without.
 */

/** Fields with a fixed name; `contact.attributes.<key>` is one more, for any attribute key. */
export const TEMPLATE_FIELDS = [
  'contact.fullname',
  'contact.lastname',
  'contact.email',
  'contact.phone',
  'agent.name',
  'agent.email',
  'conversation.id',
] as const;

export type TemplateField = (typeof TEMPLATE_FIELDS)[number];

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const ATTRIBUTE_FIELD = /^contact\.attributes\.[A-Za-z0-9_-]{1,64}$/;

/** Whether a field name inside `{{ }}` is one `renderTemplate` knows. */
export function isTemplateField(name: string): boolean {
  return (TEMPLATE_FIELDS as readonly string[]).includes(name) || ATTRIBUTE_FIELD.test(name);
}

/** The field names a text refers to, in order of first use. */
export function templateFieldsOf(text: string): string[] {
  const names: string[] = [];
  for (const match of text.matchAll(PLACEHOLDER)) {
    const name = match[1] ?? '';
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

/**
 * The text with each `{{field}}` replaced by its value; a field without a value (a contact with no
 * name yet) becomes the empty string, so a reply never shows braces to a visitor.
 */
export function renderTemplate(text: string, values: Readonly<Record<string, string | undefined>>): string {
  return text.replace(PLACEHOLDER, (_whole, name: string) =>
    Object.prototype.hasOwnProperty.call(values, name) ? (values[name] ?? '') : '',
  );
}

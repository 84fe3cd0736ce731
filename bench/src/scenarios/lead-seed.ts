import { randomUUID } from 'node:crypto';
import { MongoClient, ObjectId } from 'mongodb';
// The server's own derivation, so the seeded leads hold exactly what the server would store.
import { propIndexOf, type PropIndexEntry } from '@parley/server/dist/leads/lead-prop-index';

/** A lead as Parley's lead model stores it (server/src/leads/lead-model.ts). */
interface LeadDoc {
  _id: string;
  projectId: string;
  userId: string;
  kind: 'anonymous';
  fullname: string;
  lastname: string;
  email: string;
  phone: string;
  emailDomain: string;
  attributes: Record<string, string | number>;
  /** Derived from `attributes` (server/src/leads/lead-prop-index.ts): property filters use its index. */
  propIndex: PropIndexEntry[];
  tags: string[];
  searchKeys: string[];
  conversationCount: number;
  rev: number;
  createdAt: Date;
  updatedAt: Date;
}

const FIRST = ['anna', 'ben', 'carla', 'david', 'emma', 'felix', 'greta', 'hugo', 'ines', 'jonas'];
const SYLLABLES = ['ka', 'lo', 'mi', 'ne', 'pa', 'ri', 'so', 'tu', 'va', 'ze', 'bo', 'da', 'fe', 'gi', 'ho', 'ju'];

/** Deterministic, varied names: 10 first names × 4,096 last names. */
export function leadProfile(index: number): { fullname: string; lastname: string; email: string; phone: string } {
  const first = FIRST[index % FIRST.length] as string;
  let n = Math.floor(index / FIRST.length);
  let last = '';
  for (let i = 0; i < 3; i++) {
    last += SYLLABLES[n % SYLLABLES.length];
    n = Math.floor(n / SYLLABLES.length);
  }
  const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
  return {
    fullname: `${cap(first)} ${cap(last)}`,
    lastname: cap(last),
    email: `${first}.${last}.${index}@example.com`,
    phone: `+49 30 ${String(1_000_000 + index)}`,
  };
}

/** The same rule as the server's `searchKeysOf` (server/src/leads/lead-profile.ts). */
function searchKeysOf(p: { fullname: string; lastname: string; email: string; phone: string }): string[] {
  const keys = new Set<string>();
  const add = (value: string) => {
    const key = value.trim().toLowerCase();
    if (key) keys.add(key);
  };
  add(p.fullname);
  for (const word of p.fullname.split(/\s+/)) add(word);
  add(p.lastname);
  add(p.email);
  add(p.phone);
  add(p.phone.replace(/\D/g, ''));
  return [...keys];
}

const BATCH = 1000;

/** Lead `i`'s attributes, stored as given (typed as the project's properties define them). */
export type SeedAttributes = (index: number) => Record<string, string | number>;

const PLAN: SeedAttributes = (i) => ({ plan: i % 3 === 0 ? 'pro' : 'free' });

/**
 * Writes leads `from`..`to` (exclusive) straight into the database Parley uses, in the shape its
 * model stores, through the driver in batches: creating 100k leads through the API would measure
 * the API, not search or filters.
 */
export async function seedLeads(
  uri: string,
  projectId: string,
  from: number,
  to: number,
  onProgress: (done: number) => void,
  attributes: SeedAttributes = PLAN,
): Promise<void> {
  const client = new MongoClient(uri);
  await client.connect();
  try {
    const leads = client.db().collection<LeadDoc>('leads');
    const start = Date.now() - to * 1000;
    for (let batchStart = from; batchStart < to; batchStart += BATCH) {
      const docs: LeadDoc[] = [];
      for (let i = batchStart; i < Math.min(to, batchStart + BATCH); i++) {
        const profile = leadProfile(i);
        const at = new Date(start + i * 1000);
        const values = attributes(i);
        docs.push({
          _id: new ObjectId().toHexString(),
          projectId,
          userId: randomUUID(),
          kind: 'anonymous',
          ...profile,
          emailDomain: 'example.com',
          attributes: values,
          propIndex: propIndexOf(values),
          tags: [],
          searchKeys: searchKeysOf(profile),
          conversationCount: 0,
          rev: 0,
          createdAt: at,
          updatedAt: at,
        });
      }
      await leads.insertMany(docs, { ordered: false });
      onProgress(Math.min(to, batchStart + BATCH));
    }
  } finally {
    await client.close();
  }
}

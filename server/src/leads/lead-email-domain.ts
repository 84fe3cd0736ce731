import type { Logger } from '../infra/logger';
import type { LeadDoc, LeadModel } from './lead-model';

/** The email domain a lead is found by (`example.com`), lower-cased; none without an email. */
export function emailDomainOf(email: string | undefined | null): string | undefined {
  if (!email) return undefined;
  const at = email.lastIndexOf('@');
  const domain =
    at < 0
      ? ''
      : email
          .slice(at + 1)
          .trim()
          .toLowerCase();
  return domain === '' ? undefined : domain;
}

const BATCH = 500;

/**
 * Leads stored before `emailDomain` existed get it once, at start, in the background: batches of
 * leads that have an email and no domain, each set only while its email is still the one read (a
 * concurrent change computes its own). Every node may run it at once; the writes are idempotent.
 * Until it finishes, such leads are missing from domain searches only.
 */
export async function backfillEmailDomains(leads: LeadModel, logger: Logger): Promise<number> {
  let done = 0;
  for (;;) {
    const batch = await leads
      .find({ email: { $exists: true, $ne: null }, emailDomain: { $exists: false } }, { _id: 1, email: 1 })
      .limit(BATCH)
      .lean<Pick<LeadDoc, '_id' | 'email'>[]>()
      .exec();
    let changed = 0;
    for (const lead of batch) {
      const domain = emailDomainOf(lead.email);
      if (!domain) continue;
      const result = await leads
        .updateOne(
          { _id: lead._id, email: lead.email, emailDomain: { $exists: false } },
          { $set: { emailDomain: domain } },
        )
        .exec();
      changed += result.modifiedCount;
    }
    done += changed;
    // A batch of emails with no domain part changes nothing: stop rather than read it again.
    if (batch.length < BATCH || changed === 0) break;
  }
  if (done > 0) logger.info({ leads: done }, 'email domains backfilled');
  return done;
}

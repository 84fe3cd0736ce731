import type { VisitorAuthResponse, VisitorUser } from '@parley/protocol';
import { ParleyError } from './errors';
import type { Http } from './http';
import type { TokenStorage } from './storage';
import { decodeClaims } from './token';

export interface VisitorSession {
  token: string;
  user: VisitorUser;
  /** Epoch milliseconds. */
  expiresAt: number;
}

/** A verified-visitor token your backend signed, or a function that fetches a fresh one. */
export type VerifiedTokenSource = string | (() => string | Promise<string>);

/** Refresh or sign in again this long before expiry at the latest. */
const EXPIRY_MARGIN_MS = 5000;

/**
 * The visitor's identity and token. The token is kept in `storage`, so the same browser stays the
 * same UUID, and so the same lead, across reloads. Without a stored token the visitor signs in
 * anonymously (or as a verified user, given a verified token).
 */
export class VisitorAuth {
  private session: VisitorSession | undefined;
  private readonly key: string;

  constructor(
    private readonly http: Http,
    private readonly projectId: string,
    private readonly storage: TokenStorage,
    private verified?: VerifiedTokenSource,
  ) {
    this.key = `parley:${projectId}:visitor`;
    this.session = this.load();
  }

  get current(): VisitorSession | undefined {
    return this.session;
  }

  /** A usable session: the stored one while valid, else a new sign-in. */
  async ensure(): Promise<VisitorSession> {
    const session = this.session;
    const wanted = await this.wantedVerifiedUser();
    const fresh = session && session.expiresAt - Date.now() > EXPIRY_MARGIN_MS;
    if (
      session &&
      fresh &&
      (wanted === undefined || (session.user.kind === 'verified' && session.user.id === wanted.sub))
    ) {
      return session;
    }
    if (wanted) return this.signInVerified(wanted.token);
    if (session && fresh) return session;
    return this.signInAnonymously();
  }

  /** A new token for the same user; if the old one is no longer accepted, sign in again. */
  async refresh(): Promise<VisitorSession> {
    const session = this.session;
    if (session && session.expiresAt - Date.now() > 1000) {
      try {
        return this.save(
          await this.http.json<VisitorAuthResponse>('POST', '/v1/auth/refresh', { token: session.token, body: {} }),
        );
      } catch (error) {
        if (!(error instanceof ParleyError) || error.code !== 'UNAUTHORIZED') throw error;
      }
    }
    const wanted = await this.wantedVerifiedUser();
    if (wanted) return this.signInVerified(wanted.token);
    return this.signInAnonymously();
  }

  /** Switch to a verified user (your backend signed `token` with the project secret). */
  async identify(token: VerifiedTokenSource): Promise<VisitorSession> {
    this.verified = token;
    const wanted = await this.wantedVerifiedUser();
    if (!wanted) throw new ParleyError('BAD_REQUEST', 'A verified token is required');
    return this.signInVerified(wanted.token);
  }

  /** Forget the identity (log out): the next sign-in is a new visitor. */
  forget(): void {
    this.session = undefined;
    this.verified = undefined;
    this.storage.removeItem(this.key);
  }

  private async signInAnonymously(): Promise<VisitorSession> {
    return this.save(
      await this.http.json<VisitorAuthResponse>(
        'POST',
        `/v1/projects/${encodeURIComponent(this.projectId)}/auth/anonymous`,
        { body: {} },
      ),
    );
  }

  private async signInVerified(token: string): Promise<VisitorSession> {
    return this.save(
      await this.http.json<VisitorAuthResponse>(
        'POST',
        `/v1/projects/${encodeURIComponent(this.projectId)}/auth/verified`,
        { body: { token } },
      ),
    );
  }

  private async wantedVerifiedUser(): Promise<{ token: string; sub: string } | undefined> {
    if (this.verified === undefined) return undefined;
    const token = typeof this.verified === 'function' ? await this.verified() : this.verified;
    const sub = decodeClaims(token).sub;
    return sub ? { token, sub } : undefined;
  }

  private save(response: VisitorAuthResponse): VisitorSession {
    const session: VisitorSession = {
      token: response.token,
      user: response.user,
      expiresAt: Date.parse(response.expiresAt),
    };
    this.session = session;
    try {
      this.storage.setItem(this.key, JSON.stringify(session));
    } catch {
      // Storage full or disabled: the session still works for this page.
    }
    return session;
  }

  private load(): VisitorSession | undefined {
    try {
      const raw = this.storage.getItem(this.key);
      if (!raw) return undefined;
      const parsed = JSON.parse(raw) as Partial<VisitorSession>;
      if (typeof parsed.token !== 'string' || typeof parsed.expiresAt !== 'number' || !parsed.user) return undefined;
      return parsed as VisitorSession;
    } catch {
      return undefined;
    }
  }
}

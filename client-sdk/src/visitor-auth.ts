import type { VisitorAuthResponse, VisitorUser } from '@parley/protocol';
import { ParleyError } from './errors';
import type { Http } from './http';
import type { TokenStorage } from './storage';
import type { Timers } from './timers';
import { decodeClaims, localExpiry } from './token';

export interface VisitorSession {
  token: string;
  user: VisitorUser;
  /** Epoch milliseconds, by the server's clock. */
  expiresAt: number;
  /** When this browser received the token, by its own clock (absent in sessions stored by older SDKs). */
  receivedAt?: number;
}

/** A verified-visitor token your backend signed, or a function that fetches a fresh one. */
export type VerifiedTokenSource = string | (() => string | Promise<string>);

/** Refresh or sign in again this long before expiry at the latest. */
const EXPIRY_MARGIN_MS = 5000;

/** The Web Locks API, where the browser has it: one sign-in at a time across the tabs of a site. */
interface Locks {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/** Who the page wants signed in: a verified user (with the token to prove it), or anyone anonymous. */
type Wanted = { token: string; sub: string } | undefined;

/**
 * The visitor's identity and token. The token is kept in `storage`, so the same browser stays the
 * same UUID, and so the same lead, across reloads and tabs. Without a usable stored session the
 * visitor signs in anonymously (or as a verified user, given a verified token).
 *
 * A stored verified session is used only while the page still says who is signed in (a
 * `verifiedToken` for the same user): on a shared computer, the next person must not carry on as
 * the customer who logged out of the site. Without one, the page gets a new anonymous visitor.
 */
export class VisitorAuth {
  private session: VisitorSession | undefined;
  private readonly key: string;
  /** Bumped by `forget()`: a sign-in that was in flight then must not bring the old identity back. */
  private generation = 0;

  constructor(
    private readonly http: Http,
    private readonly timers: Timers,
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

  /** A usable session: the stored one while valid for whom the page wants, else a new sign-in. */
  async ensure(): Promise<VisitorSession> {
    const wanted = await this.wantedUser();
    // Another tab may have refreshed the token or signed in since this page loaded.
    const stored = this.load() ?? this.session;
    if (stored && this.acceptable(stored, wanted)) return (this.session = stored);
    if (stored?.user.kind === 'verified' && !wanted) this.forget();
    return this.signIn(wanted);
  }

  /** A new token for the same user; if the old one is no longer accepted, sign in again. */
  async refresh(): Promise<VisitorSession> {
    const session = this.session;
    const generation = this.generation;
    if (session && this.fresh(session, 1000)) {
      try {
        const renewed = await this.http.json<VisitorAuthResponse>('POST', '/v1/auth/refresh', {
          token: session.token,
          body: {},
        });
        return this.save(renewed, generation);
      } catch (error) {
        if (!(error instanceof ParleyError) || error.code !== 'UNAUTHORIZED') throw error;
      }
    }
    return this.signIn(await this.wantedUser());
  }

  /** Switch to a verified user (your backend signed `token` with the project secret). */
  async identify(token: VerifiedTokenSource): Promise<VisitorSession> {
    const previous = this.verified;
    this.verified = token;
    try {
      const wanted = await this.wantedUser();
      if (!wanted) throw new ParleyError('BAD_REQUEST', 'A verified token is required');
      return await this.signInVerified(wanted.token, this.generation);
    } catch (error) {
      this.verified = previous;
      throw error;
    }
  }

  /** Forget the identity (log out): the stored session is removed; the next sign-in is a new visitor. */
  forget(): void {
    this.generation++;
    this.session = undefined;
    this.verified = undefined;
    try {
      this.storage.removeItem(this.key);
    } catch {
      // Storage disabled: there was nothing kept in it either.
    }
  }

  private acceptable(session: VisitorSession, wanted: Wanted): boolean {
    if (!this.fresh(session, EXPIRY_MARGIN_MS)) return false;
    return wanted
      ? session.user.kind === 'verified' && session.user.id === wanted.sub
      : session.user.kind === 'anonymous';
  }

  /** Still valid for `marginMs` more, by this browser's clock (see `localExpiry`). */
  private fresh(session: VisitorSession, marginMs: number): boolean {
    const expiry = localExpiry(session) ?? session.expiresAt;
    return expiry - this.timers.now() > marginMs;
  }

  /**
   * Signs in, one tab at a time where the browser can lock: two tabs opened at once must not
   * become two visitors (the one stored last would win, orphaning the other's conversations).
   * Inside the lock, and again before writing, a session another tab stored meanwhile is adopted.
   */
  private async signIn(wanted: Wanted): Promise<VisitorSession> {
    const generation = this.generation;
    const run = async (): Promise<VisitorSession> => {
      const stored = this.load();
      if (stored && this.acceptable(stored, wanted)) return (this.session = stored);
      return wanted ? this.signInVerified(wanted.token, generation, wanted) : this.signInAnonymously(generation);
    };
    const locks = (globalThis as { navigator?: { locks?: Locks } }).navigator?.locks;
    return locks ? locks.request(`${this.key}:sign-in`, run) : run();
  }

  private async signInAnonymously(generation: number): Promise<VisitorSession> {
    const response = await this.http.json<VisitorAuthResponse>(
      'POST',
      `/v1/projects/${encodeURIComponent(this.projectId)}/auth/anonymous`,
      { body: {} },
    );
    return this.adoptOrSave(response, generation, undefined);
  }

  private async signInVerified(token: string, generation: number, wanted?: Wanted): Promise<VisitorSession> {
    const response = await this.http.json<VisitorAuthResponse>(
      'POST',
      `/v1/projects/${encodeURIComponent(this.projectId)}/auth/verified`,
      { body: { token } },
    );
    return wanted ? this.adoptOrSave(response, generation, wanted) : this.save(response, generation);
  }

  /** Without a lock, another tab may have stored a session while this one was signing in: use that one. */
  private adoptOrSave(response: VisitorAuthResponse, generation: number, wanted: Wanted): VisitorSession {
    const stored = this.load();
    if (generation === this.generation && stored && this.acceptable(stored, wanted)) return (this.session = stored);
    return this.save(response, generation);
  }

  /**
   * Who the page wants signed in, from `verifiedToken`. A token that cannot be a verified-visitor
   * token, or a function that fails, is the page's problem to fix: it rejects, it is not retried.
   */
  private async wantedUser(): Promise<Wanted> {
    const source = this.verified;
    if (source === undefined) return undefined;
    let token: unknown;
    try {
      token = typeof source === 'function' ? await source() : source;
    } catch (error) {
      if (error instanceof ParleyError) throw error;
      throw new ParleyError(
        'UNAUTHORIZED',
        `verifiedToken() failed: ${error instanceof Error ? error.message : String(error)}`,
        undefined,
        { cause: error },
      );
    }
    if (typeof token !== 'string' || token === '') {
      throw new ParleyError('BAD_REQUEST', 'verifiedToken must be a JWT (or a function that returns one)');
    }
    const sub = decodeClaims(token)?.sub;
    if (typeof sub !== 'string' || sub === '') {
      throw new ParleyError('BAD_REQUEST', 'verifiedToken is not a JWT with a `sub` claim (your user id)');
    }
    return { token, sub };
  }

  private save(response: VisitorAuthResponse, generation: number): VisitorSession {
    // Signed out (or in as someone else) while this request was in flight: drop its answer.
    if (generation !== this.generation) {
      throw new ParleyError('UNAUTHORIZED', 'The visitor signed out while signing in', undefined, { retryable: false });
    }
    const session: VisitorSession = {
      token: response.token,
      user: response.user,
      expiresAt: Date.parse(response.expiresAt),
      receivedAt: this.timers.now(),
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
      if (parsed.user.kind !== 'anonymous' && parsed.user.kind !== 'verified') return undefined;
      return {
        token: parsed.token,
        user: parsed.user,
        expiresAt: parsed.expiresAt,
        ...(typeof parsed.receivedAt === 'number' ? { receivedAt: parsed.receivedAt } : {}),
      };
    } catch {
      return undefined;
    }
  }
}

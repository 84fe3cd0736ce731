import { randomUUID } from 'node:crypto';
import type {
  AgentLoginResponse,
  MeResponse,
  Project,
  VisitorAuthResponse,
  WidgetAvailability,
  WidgetConfig,
} from '@parley/protocol';
import type { AgentService, AgentAccount } from '../agents/agent-service';
import type { Config } from '../config';
import { forbidden } from '../errors';
import type { Clock } from '../infra/clock';
import { loginDelayMs, type RateLimits } from '../infra/rate-limits';
import type { BlockGate } from '../leads/visitor-block-gate';
import type { LeadService } from '../leads/lead-service';
import type { ProjectService } from '../projects/project-service';
import { assertOriginAllowed } from '../realtime/origin-check';
import { verifyCustomerToken } from './customer-token';
import type { AgentPrincipal, Principal } from './principal';
import type { TokenService } from './token-service';

/** Where a sign-in comes from, as the transport saw it. */
export interface ClientContext {
  /** The client address (behind a proxy only as far as TRUST_PROXY trusts it): rate limits count it. */
  address: string;
  /** The `Origin` a browser sent, checked against whom the token is for; absent outside browsers. */
  origin: string | undefined;
}

export type AuthSettings = Pick<Config, 'corsOrigins' | 'verifiedTokenMaxLifetimeSeconds'> & {
  rateLimits: Pick<Config['rateLimits'], 'loginPerMinute'>;
};

export interface AuthServiceDeps {
  settings: AuthSettings;
  tokens: TokenService;
  projects: ProjectService;
  agents: AgentService;
  leads: LeadService;
  rateLimits: RateLimits;
  clock: Clock;
  /** Whether someone can answer the project's visitors now (business hours, presence). */
  availability: (projectId: string) => Promise<WidgetAvailability>;
  /** Refuses a blocked contact's visitors at sign-in and refresh (issue 15). */
  blocks?: BlockGate;
}

/**
 * Signing in and staying signed in: visitors (anonymous and verified), agents (login, password
 * change), refreshing a token and telling a token's holder who it is. Knows nothing of HTTP: the
 * transport hands in the validated input and where the request came from.
 */
export class AuthService {
  private readonly settings: AuthSettings;
  private readonly tokens: TokenService;
  private readonly projects: ProjectService;
  private readonly agents: AgentService;
  private readonly leads: LeadService;
  private readonly rateLimits: RateLimits;
  private readonly clock: Clock;
  private readonly availability: AuthServiceDeps['availability'];
  private readonly blocks: BlockGate | undefined;

  constructor({ settings, tokens, projects, agents, leads, rateLimits, clock, availability, blocks }: AuthServiceDeps) {
    this.blocks = blocks;
    this.clock = clock;
    this.settings = settings;
    this.tokens = tokens;
    this.projects = projects;
    this.agents = agents;
    this.leads = leads;
    this.rateLimits = rateLimits;
    this.availability = availability;
  }

  /** What the widget needs to show itself, for a page the project accepts. */
  async widgetConfig(projectId: string, origin: string | undefined): Promise<WidgetConfig> {
    const project = await this.visitorProject(projectId, origin);
    return {
      projectId: project.id,
      name: project.name,
      preChatForm: project.preChatForm,
      availability: await this.availability(project.id),
    };
  }

  async signInAnonymous(projectId: string, client: ClientContext): Promise<VisitorAuthResponse> {
    await this.rateLimits.anonymousSignIn.consume(client.address);
    const project = await this.visitorProject(projectId, client.origin);
    // The server mints the visitor's identity; a client never chooses it.
    const userId = randomUUID();
    const issued = this.tokens.issueVisitor(project.id, userId);
    return {
      token: issued.token,
      user: { id: userId, kind: 'anonymous' },
      expiresAt: issued.expiresAt.toISOString(),
    };
  }

  /** A visitor the customer's backend vouches for, with a token signed by one of the project's secrets. */
  async signInVerified(projectId: string, customerToken: string, client: ClientContext): Promise<VisitorAuthResponse> {
    await this.rateLimits.anonymousSignIn.consume(client.address);
    const project = await this.visitorProject(projectId, client.origin);
    const claims = verifyCustomerToken(
      customerToken,
      await this.projects.activeSecrets(project.id),
      this.settings.verifiedTokenMaxLifetimeSeconds,
      this.clock.seconds(),
    );
    const profile = {
      ...(claims.fullname !== undefined ? { fullname: claims.fullname } : {}),
      ...(claims.lastname !== undefined ? { lastname: claims.lastname } : {}),
      ...(claims.email !== undefined ? { email: claims.email } : {}),
      ...(claims.phone !== undefined ? { phone: claims.phone } : {}),
      ...(claims.attributes !== undefined ? { attributes: claims.attributes } : {}),
    };
    // A blocked contact's customer-signed token is refused before anything is written.
    await this.blocks?.check(project.id, claims.sub);
    // Profile claims are written to the lead (creating it); without any, the lead waits for the
    // first conversation like an anonymous visitor's.
    if (Object.keys(profile).length > 0) {
      await this.leads.resolveForUser(project.id, claims.sub, 'verified', profile, 'customer');
    }
    const issued = this.tokens.issueVerified(project.id, claims.sub, this.clock.date());
    return {
      token: issued.token,
      user: { id: claims.sub, kind: 'verified' },
      expiresAt: issued.expiresAt.toISOString(),
    };
  }

  /** A fresh token for a visitor or an agent in good standing; the admin token is not refreshed. */
  async refresh(principal: Principal, origin: string | undefined): Promise<VisitorAuthResponse | AgentLoginResponse> {
    await this.assertTokenOrigin(principal, origin);
    if (principal.kind === 'visitor') {
      await this.blocks?.check(principal.projectId, principal.userId);
      const issued = principal.verifiedAt
        ? this.tokens.issueVerified(principal.projectId, principal.userId, principal.verifiedAt)
        : this.tokens.issueVisitor(principal.projectId, principal.userId);
      return {
        token: issued.token,
        user: { id: principal.userId, kind: principal.visitorKind },
        expiresAt: issued.expiresAt.toISOString(),
      };
    }
    if (principal.kind !== 'agent') throw forbidden();
    return this.agentToken(await this.agents.getForToken(principal));
  }

  /** Who the token's holder is. */
  async me(principal: Principal, origin: string | undefined): Promise<MeResponse> {
    await this.assertTokenOrigin(principal, origin);
    if (principal.kind === 'visitor') {
      await this.blocks?.check(principal.projectId, principal.userId);
      return {
        kind: 'visitor',
        projectId: principal.projectId,
        user: { id: principal.userId, kind: principal.visitorKind },
        expiresAt: principal.expiresAt.toISOString(),
      };
    }
    if (principal.kind === 'agent') {
      const { agent } = await this.agents.getForToken(principal);
      return { kind: 'agent', agent, expiresAt: principal.expiresAt.toISOString() };
    }
    return { kind: 'admin' };
  }

  async agentLogin(email: string, password: string, client: ClientContext): Promise<AgentLoginResponse> {
    // Refused beyond the allowance: one address guessing (any accounts), and one address guessing
    // one account. One account guessed from many addresses is only slowed down: refusing there
    // would let anyone lock an agent out, from anywhere, by failing on purpose. Each attempt
    // counts; a successful one is given back, so only failures use the allowance.
    const refusing = [`ip:${client.address}`, `ip-email:${client.address}:${email}`];
    for (const key of refusing) await this.rateLimits.login.consume(key);
    const emailKey = `email:${email}`;
    const attempts = await this.rateLimits.loginPerEmail.count(emailKey);
    const delay = loginDelayMs(attempts, this.settings.rateLimits.loginPerMinute);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const signedIn = await this.agents.authenticate(email, password);
    await Promise.all([
      ...refusing.map((key) => this.rateLimits.login.refund(key)),
      this.rateLimits.loginPerEmail.refund(emailKey),
    ]);
    return this.agentToken(signedIn);
  }

  /**
   * An agent changes its own password with the current one. Every session of the agent is signed
   * out, on every node; the caller gets a fresh token so that the console it came from goes on.
   * Wrong current passwords count against the login allowance of this address and account.
   */
  async changeOwnPassword(
    principal: AgentPrincipal,
    currentPassword: string,
    newPassword: string,
    client: ClientContext,
  ): Promise<AgentLoginResponse> {
    const key = `ip-email:${client.address}:agent:${principal.agentId}`;
    await this.rateLimits.login.consume(key);
    const changed = await this.agents.changeOwnPassword(principal, currentPassword, newPassword);
    await this.rateLimits.login.refund(key);
    return this.agentToken(changed);
  }

  private agentToken({ agent, credentialVersion }: AgentAccount): AgentLoginResponse {
    const issued = this.tokens.issueAgent(agent, credentialVersion);
    return { token: issued.token, agent, expiresAt: issued.expiresAt.toISOString() };
  }

  /** A project that exists and accepts this origin. */
  private async visitorProject(projectId: string, origin: string | undefined): Promise<Project> {
    const project = await this.projects.getCached(projectId);
    assertOriginAllowed(project.allowedOrigins, origin);
    return project;
  }

  /**
   * `/auth/refresh` and `/me` answer any browser (CORS `*`, they are visitor paths), so the origin
   * is checked against whom the token is for: the project's websites for a visitor, the console's
   * origins (CORS_ORIGINS) for an agent or the admin.
   */
  private async assertTokenOrigin(principal: Principal, origin: string | undefined): Promise<void> {
    const allowed =
      principal.kind === 'visitor'
        ? (await this.projects.getCached(principal.projectId)).allowedOrigins
        : this.settings.corsOrigins;
    assertOriginAllowed(allowed, origin);
  }
}

import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config';
import { AppError } from '../errors';

/**
 * One named limit: `points` per minute per key. Counted in Redis when it is configured, so that a
 * client cannot multiply its allowance by the number of nodes; while Redis is down each node falls
 * back to counting in memory rather than refusing everyone.
 */
export class RateLimit {
  constructor(
    private readonly limiter: RateLimiterAbstract,
    private readonly what: string,
    /** Counts on this node, when the shared count cannot be had in time. */
    private readonly fallback?: RateLimiterAbstract,
  ) {}

  async consume(key: string): Promise<void> {
    try {
      await (this.fallback ? this.consumeWithin(key, this.fallback) : this.limiter.consume(key));
    } catch (error) {
      if (error instanceof RateLimiterRes) {
        throw new AppError('RATE_LIMITED', `Too many ${this.what}, slow down`, {
          retryAfterMs: Math.max(1, Math.ceil(error.msBeforeNext)),
        });
      }
      throw error;
    }
  }

  /**
   * Counts an attempt without ever refusing it, and answers how many this key made in the window
   * (this one included): for limits that slow down rather than refuse.
   */
  async count(key: string): Promise<number> {
    try {
      const result = await (this.fallback ? this.consumeWithin(key, this.fallback) : this.limiter.consume(key));
      return result instanceof RateLimiterRes ? result.consumedPoints : 1;
    } catch (error) {
      if (error instanceof RateLimiterRes) return error.consumedPoints;
      throw error;
    }
  }

  /**
   * Gives back the point of an attempt that turned out fine (a successful login). Best effort:
   * a count that cannot be corrected right now only makes the limit stricter for a minute.
   */
  async refund(key: string): Promise<void> {
    await this.limiter.reward(key, 1).catch(() => undefined);
  }

  /**
   * The Redis client's own timeouts normally make the limiter fall back to memory; this bounds
   * the wait whatever happens, since every message send waits on it (inside a group commit).
   */
  private consumeWithin(key: string, fallback: RateLimiterAbstract): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        fallback.consume(key).then(resolve, reject);
      }, SHARED_COUNT_WAIT_MS);
      this.limiter.consume(key).then(
        (result) => {
          if (settled) return;
          clearTimeout(timer);
          resolve(result);
        },
        (error: unknown) => {
          if (settled) return;
          clearTimeout(timer);
          reject(error instanceof Error || error instanceof RateLimiterRes ? error : new Error(String(error)));
        },
      );
    });
  }
}

/** Longest wait for Redis's count before this node's own count decides. */
const SHARED_COUNT_WAIT_MS = 1_000;

export interface RateLimits {
  /** Anonymous sign-ins per client address. */
  anonymousSignIn: RateLimit;
  /** Failed agent logins per client address, and per client address and email: refused beyond. */
  login: RateLimit;
  /**
   * Failed agent logins per email from every address: only ever slows them down (see
   * `loginDelayMs`), since refusing would let anyone lock an agent out by guessing wrong.
   */
  loginPerEmail: RateLimit;
  /** Messages per visitor (projectId:userId) or per agent. */
  messages: RateLimit;
  /** New conversations per visitor. */
  conversations: RateLimit;
  /** Any socket command per connection-owner, a ceiling against floods of cheap commands. */
  commands: RateLimit;
  /** Page views and custom events per visitor (issue 15): `RATE_LIMITED` beyond. */
  activity: RateLimit;
}

export function createRateLimits(config: Config, redis?: Redis): RateLimits {
  const make = (name: string, points: number, what: string): RateLimit => {
    const memory = new RateLimiterMemory({
      keyPrefix: name,
      points,
      duration: 60,
    });
    const limiter = redis
      ? new RateLimiterRedis({
          storeClient: redis,
          keyPrefix: `${config.redisKeyPrefix}rl:${name}`,
          points,
          duration: 60,
          insuranceLimiter: memory,
          // Not connected: count in memory at once rather than wait for a command to fail.
          rejectIfRedisNotReady: true,
        })
      : memory;
    return new RateLimit(limiter, what, redis ? memory : undefined);
  };
  return {
    anonymousSignIn: make('anonymous', config.rateLimits.anonymousPerMinute, 'sign-ins'),
    login: make('login', config.rateLimits.loginPerMinute, 'login attempts'),
    loginPerEmail: make('login-email', Number.MAX_SAFE_INTEGER, 'login attempts'),
    messages: make('messages', config.rateLimits.messagesPerMinute, 'messages'),
    conversations: make('conversations', config.rateLimits.conversationsPerMinute, 'new conversations'),
    commands: make('commands', config.rateLimits.commandsPerMinute, 'requests'),
    activity: make('activity', config.rateLimits.activityPerMinute, 'page views and events'),
  };
}

/** Longest wait a login for one email is held back, however many attempts failed. */
export const LOGIN_DELAY_MAX_MS = 5_000;

/**
 * How long to hold back a login attempt for an email that `attempts` attempts (this one included)
 * tried within the minute: nothing up to the per-minute allowance, then 250 ms more for each
 * attempt beyond it, up to five seconds. Guessing one account costs time that grows with every
 * miss (the per-address limits bound how many guesses each address gets at all), while the agent,
 * from any address, still gets in with the right password.
 */
export function loginDelayMs(attempts: number, allowance: number): number {
  return Math.min(LOGIN_DELAY_MAX_MS, Math.max(0, attempts - allowance) * 250);
}

import { createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { LIMITS } from '@parley/protocol';
import { secretsTooAlike, secretWeakness } from './secret-strength';

/**
 * Configuration comes from the environment only, and is validated once at start. A bad value
 * stops the process with one line naming the variable (see `ConfigError`).
 */
export type NodeEnv = 'development' | 'production' | 'test';
export type JwtAlgorithm = 'HS256' | 'RS256' | 'ES256';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface JwtConfig {
  algorithm: JwtAlgorithm;
  /** HS256: the shared secret. RS256/ES256: the PEM private key. */
  signingKey: string;
  /** HS256: the secret again. RS256/ES256: the PEM public key. */
  verifyKey: string;
  /** Keys that still verify (not sign) after a rotation of the server's own key. */
  previousVerifyKeys: string[];
  issuer: string;
  visitorTtlSeconds: number;
  /** A verified visitor's token: shorter, since it stands for a customer's logged-in user. */
  verifiedVisitorTtlSeconds: number;
  /** Refreshes never carry a verified session past this age; then a fresh customer token is needed. */
  verifiedSessionMaxAgeSeconds: number;
  agentTtlSeconds: number;
}

export interface Config {
  env: NodeEnv;
  port: number;
  host: string;
  /** Unset: the embedded MongoDB-compatible server runs in-process with data in `dataDir/db`. */
  mongodbUri?: string;
  /** Unset: a single node with Socket.IO's in-memory adapter and in-memory rate limits. */
  redisUrl?: string;
  dataDir: string;
  jwt: JwtConfig;
  adminToken?: string;
  metricsToken?: string;
  /** `/metrics` on a port of its own (not the public one); unset serves it on `port`. */
  metricsPort?: number;
  /** `*` or a list of origins allowed to call the agent REST API from a browser. */
  corsOrigins: '*' | string[];
  logLevel: LogLevel;
  trustProxy: boolean | number | string;
  publicUrl?: string;
  messageMaxLength: number;
  rateLimits: {
    anonymousPerMinute: number;
    messagesPerMinute: number;
    conversationsPerMinute: number;
    loginPerMinute: number;
    commandsPerMinute: number;
    /** Page views and custom events per visitor (issue 15). */
    activityPerMinute: number;
  };
  /** Open sockets per visitor (all tabs) or agent, and per client address, across nodes with Redis. */
  connectionCaps: { perUser: number; perAddress: number };
  verifiedTokenMaxLifetimeSeconds: number;
  secretRotationGraceSeconds: number;
  /** Agent sockets that come back within this window get what they missed replayed. */
  recoveryWindowMs: number;
  /**
   * Bytes that may wait to be sent to one connection (not yet taken by a client that stopped
   * reading) before the server closes it; see realtime/send-buffer-guard.ts.
   */
  socketSendBufferLimit: number;
  /** Approximate cap of each namespace's Redis stream (and of the packets kept for recovery without Redis). */
  redisStreamMaxLen: number;
  /** Prefix of every Redis key, so that several deployments (or test servers) can share one Redis. */
  redisKeyPrefix: string;
  seedDemo: boolean;
  /** scrypt's N for new password hashes (r=8, p=1); lower only outside production (tests). */
  passwordScryptN: number;
  /**
   * Every node sweeps the database at least this often for snoozes that are due and status notes a
   * dead node left: the longest a snooze ends late when the node that snoozed it died.
   */
  workflowSweepIntervalMs: number;
  /** An agent whose last socket has been gone this long is offline (a reload is not an absence). */
  presenceGraceMs: number;
  /** How often every node sweeps the routing queues, so that a missed event forgets nothing. */
  routingSweepMs: number;
  webhooks: WebhookConfig;
  imports: ImportConfig;
  activity: ActivityConfig;
}

/** Visitor activity (server/src/activity). */
export interface ActivityConfig {
  /** Stored page views and events per contact; past it the oldest are dropped. */
  maxPerLead: number;
  /** A visitor whose node stopped refreshing it leaves the live list after this long. */
  liveTtlMs: number;
  /** `lastSeenAt` is written at most this often per visitor (on every node together). */
  lastSeenIntervalMs: number;
}

/** Contact imports (server/src/imports). */
export interface ImportConfig {
  /** How long a node that died keeps its import; renewed after every batch. */
  leaseMs: number;
  /** How often every node looks for an import to run (one it was asked for starts at once). */
  pollMs: number;
}

export interface WebhookConfig {
  /** Waits between attempts: one attempt, then one more after each delay; then the delivery failed. */
  retryDelaysMs: number[];
  /** One attempt's limit, connect to last byte. */
  timeoutMs: number;
  /** Loopback, private, link-local and metadata destinations, and plain http, allowed. */
  allowPrivate: boolean;
  /** A webhook failing every attempt for this long is turned off. */
  disableAfterMs: number;
  /** Requests in flight from this node, in all and per webhook. */
  maxInFlight: number;
  maxInFlightPerWebhook: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const DURATION = /^(\d+)\s*(ms|s|m|h|d)?$/;
const UNIT_SECONDS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
};

/** `90d`, `12h`, `30m`, `45s` or a number of seconds. */
export function parseDurationSeconds(variable: string, value: string): number {
  const match = DURATION.exec(value.trim());
  if (!match) throw new ConfigError(variable, `must be a duration such as 90d, 12h, 30m or 3600 (got "${value}")`);
  const seconds = Number(match[1]) * (UNIT_SECONDS[match[2] ?? 's'] ?? 1);
  if (seconds < 1) throw new ConfigError(variable, 'must be at least one second');
  return Math.floor(seconds);
}

/** A duration in milliseconds: `250ms`, `5s`, `1m`; at least `minMs`. */
function readDurationMs(env: Env, variable: string, fallback: string, minMs: number, maxMs: number): number {
  const raw = env[variable];
  const value = raw === undefined || raw === '' ? fallback : raw;
  const match = DURATION.exec(value.trim());
  if (!match) throw new ConfigError(variable, `must be a duration such as 250ms, 5s or 1m (got "${value}")`);
  const ms = Number(match[1]) * (UNIT_SECONDS[match[2] ?? 's'] ?? 1) * 1000;
  if (ms < minMs || ms > maxMs) throw new ConfigError(variable, `must be between ${minMs} ms and ${maxMs} ms`);
  return Math.round(ms);
}

function readInt(env: Env, variable: string, fallback: number, min: number, max: number): number {
  const raw = env[variable];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(variable, `must be a whole number (got "${raw}")`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(variable, `must be between ${min} and ${max} (got ${value})`);
  return value;
}

function readOptionalPort(env: Env, variable: string): number | undefined {
  const raw = env[variable];
  if (raw === undefined || raw.trim() === '') return undefined;
  return readInt(env, variable, 0, 0, 65535);
}

function readDuration(env: Env, variable: string, fallback: string): number {
  const raw = env[variable];
  return parseDurationSeconds(variable, raw === undefined || raw === '' ? fallback : raw);
}

/** OWASP's scrypt cost (N=2^17); see agents/password.ts. */
export const PASSWORD_SCRYPT_N_DEFAULT = 2 ** 17;

/**
 * `PASSWORD_SCRYPT_N`: a power of two. It exists so that test suites creating hundreds of agents
 * need not spend 0.3 s and 128 MiB on each; production may raise the cost, never lower it.
 */
function readScryptN(env: Env, production: boolean): number {
  const value = readInt(env, 'PASSWORD_SCRYPT_N', PASSWORD_SCRYPT_N_DEFAULT, 2 ** 10, 2 ** 20);
  if ((value & (value - 1)) !== 0) throw new ConfigError('PASSWORD_SCRYPT_N', `must be a power of two (got ${value})`);
  if (production && value < PASSWORD_SCRYPT_N_DEFAULT) {
    throw new ConfigError('PASSWORD_SCRYPT_N', `may not be below ${PASSWORD_SCRYPT_N_DEFAULT} in production`);
  }
  return value;
}

const SIZE = /^(\d+)\s*(b|kb|mb|gb)?$/i;
const UNIT_BYTES: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** `4mb`, `512kb` or a number of bytes, between `min` and `max` bytes. */
function readBytes(env: Env, variable: string, fallback: string, min: number, max: number): number {
  const raw = env[variable]?.trim() || fallback;
  const match = SIZE.exec(raw);
  if (!match) throw new ConfigError(variable, `must be a size such as 4mb, 512kb or 1048576 (got "${raw}")`);
  const bytes = Number(match[1]) * (UNIT_BYTES[(match[2] ?? 'b').toLowerCase()] ?? 1);
  if (bytes < min || bytes > max)
    throw new ConfigError(variable, `must be between ${min} and ${max} bytes (got ${bytes})`);
  return bytes;
}

function readKeyPrefix(env: Env): string {
  const raw = env['REDIS_KEY_PREFIX'];
  if (raw === undefined || raw === '') return 'parley:';
  if (!/^[A-Za-z0-9:_.-]{1,64}$/.test(raw)) {
    throw new ConfigError('REDIS_KEY_PREFIX', 'must be 1 to 64 letters, digits or :_.-');
  }
  return raw;
}

function readBool(env: Env, variable: string, fallback: boolean): boolean {
  const raw = env[variable]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(variable, `must be true or false (got "${env[variable]}")`);
}

function readUrl(env: Env, variable: string, protocols: string[]): string | undefined {
  const raw = env[variable]?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(variable, 'must be a URL');
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(variable, `must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  }
  return raw;
}

/**
 * A MongoDB connection string is not a URL when it lists several hosts
 * (`mongodb://h1:27017,h2:27017/db?replicaSet=rs0`), so only its scheme and the presence of a host
 * are checked here; the driver parses the rest and reports its own errors at connect.
 */
function readMongoUri(env: Env): string | undefined {
  const raw = env['MONGODB_URI']?.trim();
  if (!raw) return undefined;
  const match = /^mongodb(\+srv)?:\/\/(?:[^@/]*@)?([^/?]+)/.exec(raw);
  if (!match) throw new ConfigError('MONGODB_URI', 'must start with mongodb:// or mongodb+srv:// and name a host');
  return raw;
}

/** An interface to listen on: an IP address or a host name (resolved by the system at listen). */
function readHost(env: Env, production: boolean): string {
  const raw = env['HOST']?.trim();
  if (!raw) return production ? '0.0.0.0' : '127.0.0.1';
  const hostname =
    /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
  if (isIP(raw) === 0 && !hostname.test(raw)) {
    throw new ConfigError('HOST', `must be an IP address or a host name (got "${raw}")`);
  }
  return raw;
}

/** PEM keys may come with literal `\n`s when passed through an environment file. */
function readPem(env: Env, variable: string): string | undefined {
  const raw = env[variable];
  if (!raw) return undefined;
  const pem = raw.includes('\\n') ? raw.replace(/\\n/g, '\n') : raw;
  if (!pem.includes('-----BEGIN')) throw new ConfigError(variable, 'must be a PEM-encoded key');
  return pem;
}

/** The key type each algorithm needs: an RSA key for RS256, an EC P-256 key for ES256. */
function assertKeyFits(variable: string, key: KeyObject, algorithm: JwtAlgorithm): void {
  const type = key.asymmetricKeyType;
  if (algorithm === 'RS256' && type !== 'rsa')
    throw new ConfigError(variable, `must be an RSA key for RS256 (got ${type})`);
  if (algorithm === 'ES256' && (type !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')) {
    throw new ConfigError(variable, 'must be an EC P-256 key for ES256');
  }
}

/** Parses a PEM key now, so a broken one stops the start with its variable's name. */
function parsePem(variable: string, pem: string, kind: 'private' | 'public', algorithm: JwtAlgorithm): KeyObject {
  let key: KeyObject;
  try {
    key = kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(variable, `is not a readable ${kind} key (${reason})`);
  }
  assertKeyFits(variable, key, algorithm);
  return key;
}

/** A public key that does not belong to the private key would make every token we sign invalid. */
function assertPair(privateKey: KeyObject, publicKey: KeyObject): void {
  const probe = Buffer.from('parley key pair check');
  if (!verify('sha256', probe, publicKey, sign('sha256', probe, privateKey))) {
    throw new ConfigError('JWT_PUBLIC_KEY', 'does not belong to JWT_PRIVATE_KEY');
  }
}

/** Production secrets must be long and not guessable (see secret-strength.ts). */
function assertStrongSecret(variable: string, secret: string): void {
  const weakness = secretWeakness(secret);
  if (weakness) throw new ConfigError(variable, weakness);
}

/**
 * Each production secret guards something else (signing tokens, the admin API, metrics, tokens
 * signed before a rotation): one that resembles another would hand whoever holds the weaker one
 * (a metrics scraper, say) the other. The later variable of a pair is named.
 */
function assertSecretsApart(secrets: [variable: string, secret: string | undefined][]): void {
  secrets.forEach(([variable, secret], index) => {
    if (secret === undefined) return;
    for (const [earlier, other] of secrets.slice(0, index)) {
      if (other !== undefined && secretsTooAlike(secret, other)) {
        throw new ConfigError(
          variable,
          `must not resemble ${earlier} (the same ignoring case, one inside the other, or a few characters apart): anyone holding one could work out the other`,
        );
      }
    }
  });
}

/**
 * In development the JWT secret may be left unset: a random one is generated once and kept in
 * `DATA_DIR`, so tokens (and the visitors they identify) survive restarts.
 */
function developmentSecret(dataDir: string): string {
  const file = path.join(dataDir, 'jwt-secret');
  try {
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    mkdirSync(dataDir, { recursive: true });
    const secret = randomBytes(48).toString('base64url');
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    return secret;
  } catch (error) {
    throw new ConfigError('DATA_DIR', `cannot hold the development JWT secret (${fsReason(error)})`);
  }
}

function fsReason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ? `${e.code} on ${e.path ?? 'a file'}` : String(error);
}

/** DATA_DIR must be a directory (or not exist yet): the embedded database and the dev secret live there. */
function readDataDir(env: Env): string {
  const dataDir = path.resolve(env['DATA_DIR']?.trim() || '.data');
  try {
    if (existsSync(dataDir) && !statSync(dataDir).isDirectory()) {
      throw new ConfigError('DATA_DIR', `must be a directory (${dataDir} is a file)`);
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError('DATA_DIR', `cannot be read (${fsReason(error)})`);
  }
  return dataDir;
}

function readJwt(env: Env, nodeEnv: NodeEnv, dataDir: string): JwtConfig {
  const algorithm = (env['JWT_ALGORITHM']?.trim() || 'HS256') as JwtAlgorithm;
  if (!['HS256', 'RS256', 'ES256'].includes(algorithm)) {
    throw new ConfigError('JWT_ALGORITHM', 'must be HS256, RS256 or ES256');
  }
  const issuer = env['JWT_ISSUER']?.trim() || 'parley';
  const visitorTtlSeconds = readDuration(env, 'VISITOR_TOKEN_TTL', '90d');
  const verifiedVisitorTtlSeconds = readDuration(env, 'VERIFIED_VISITOR_TOKEN_TTL', '24h');
  const verifiedSessionMaxAgeSeconds = readDuration(env, 'VERIFIED_SESSION_MAX_AGE', '7d');
  if (verifiedSessionMaxAgeSeconds < verifiedVisitorTtlSeconds) {
    throw new ConfigError('VERIFIED_SESSION_MAX_AGE', 'must be at least VERIFIED_VISITOR_TOKEN_TTL');
  }
  const agentTtlSeconds = readDuration(env, 'AGENT_TOKEN_TTL', '12h');
  const lifetimes = { visitorTtlSeconds, verifiedVisitorTtlSeconds, verifiedSessionMaxAgeSeconds, agentTtlSeconds };
  if (algorithm === 'HS256') {
    let secret = env['JWT_SECRET'];
    if (!secret) {
      if (nodeEnv === 'production') throw new ConfigError('JWT_SECRET', 'is required in production');
      secret = developmentSecret(dataDir);
    } else if (nodeEnv === 'production') {
      assertStrongSecret('JWT_SECRET', secret);
    } else if (Buffer.byteLength(secret) < 16) {
      throw new ConfigError('JWT_SECRET', 'must be at least 16 bytes (32 in production)');
    }
    const previous = env['JWT_PREVIOUS_SECRET'];
    if (previous && nodeEnv === 'production') assertStrongSecret('JWT_PREVIOUS_SECRET', previous);
    return {
      algorithm,
      signingKey: secret,
      verifyKey: secret,
      previousVerifyKeys: previous ? [previous] : [],
      issuer,
      ...lifetimes,
    };
  }
  const privateKey = readPem(env, 'JWT_PRIVATE_KEY');
  const publicKey = readPem(env, 'JWT_PUBLIC_KEY');
  if (!privateKey) throw new ConfigError('JWT_PRIVATE_KEY', `is required with JWT_ALGORITHM=${algorithm}`);
  if (!publicKey) throw new ConfigError('JWT_PUBLIC_KEY', `is required with JWT_ALGORITHM=${algorithm}`);
  const previous = readPem(env, 'JWT_PREVIOUS_PUBLIC_KEY');
  assertPair(
    parsePem('JWT_PRIVATE_KEY', privateKey, 'private', algorithm),
    parsePem('JWT_PUBLIC_KEY', publicKey, 'public', algorithm),
  );
  if (previous) parsePem('JWT_PREVIOUS_PUBLIC_KEY', previous, 'public', algorithm);
  return {
    algorithm,
    signingKey: privateKey,
    verifyKey: publicKey,
    previousVerifyKeys: previous ? [previous] : [],
    issuer,
    ...lifetimes,
  };
}

function readCorsOrigins(env: Env): '*' | string[] {
  const raw = env['CORS_ORIGINS']?.trim();
  if (!raw || raw === '*') return '*';
  const origins = raw
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of origins) {
    if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(origin)) {
      throw new ConfigError('CORS_ORIGINS', `must be * or a comma-separated list of origins (bad: "${origin}")`);
    }
  }
  return origins;
}

function readTrustProxy(env: Env): boolean | number | string {
  const raw = env['TRUST_PROXY']?.trim();
  if (!raw) return false;
  if (/^\d+$/.test(raw)) return Number(raw);
  if (['true', 'false'].includes(raw)) return raw === 'true';
  return raw;
}

/** `5s,5m,30m`: each a duration of at least a second; at most 20 of them. */
function readRetryDelays(env: Env): number[] {
  const raw = env['WEBHOOK_RETRY_DELAYS']?.trim() || '5s,5m,30m,2h,5h,10h,10h';
  const parts = raw.split(',').map((part) => part.trim());
  if (parts.length > 20) throw new ConfigError('WEBHOOK_RETRY_DELAYS', 'must list at most 20 delays');
  return parts.map((part) => parseDurationSeconds('WEBHOOK_RETRY_DELAYS', part) * 1000);
}

function readWebhooks(env: Env, production: boolean): WebhookConfig {
  const timeoutMs = readDuration(env, 'WEBHOOK_TIMEOUT', '10s') * 1000;
  if (timeoutMs > 120_000) throw new ConfigError('WEBHOOK_TIMEOUT', 'must be at most 2m');
  const maxInFlight = readInt(env, 'WEBHOOK_MAX_IN_FLIGHT', 64, 1, 10_000);
  return {
    retryDelaysMs: readRetryDelays(env),
    timeoutMs,
    allowPrivate: readBool(env, 'WEBHOOK_ALLOW_PRIVATE', !production),
    disableAfterMs: readDuration(env, 'WEBHOOK_DISABLE_AFTER', '3d') * 1000,
    maxInFlight,
    maxInFlightPerWebhook: Math.min(maxInFlight, readInt(env, 'WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK', 8, 1, 10_000)),
  };
}

export function loadConfig(env: Env = process.env): Config {
  const nodeEnvRaw = env['NODE_ENV']?.trim() || 'development';
  if (!['development', 'production', 'test'].includes(nodeEnvRaw)) {
    throw new ConfigError('NODE_ENV', 'must be development, production or test');
  }
  const nodeEnv = nodeEnvRaw as NodeEnv;
  const production = nodeEnv === 'production';
  const dataDir = readDataDir(env);
  const passwordScryptN = readScryptN(env, production);

  const mongodbUri = readMongoUri(env);
  if (production && !mongodbUri) {
    throw new ConfigError('MONGODB_URI', 'is required in production (the embedded server is for development only)');
  }
  const redisUrl = readUrl(env, 'REDIS_URL', ['redis:', 'rediss:']);
  const jwt = readJwt(env, nodeEnv, dataDir);

  const adminToken = env['ADMIN_TOKEN'] || undefined;
  if (adminToken && production) assertStrongSecret('ADMIN_TOKEN', adminToken);
  if (adminToken && !production && adminToken.length < 8) {
    throw new ConfigError('ADMIN_TOKEN', 'must be at least 8 characters (32 bytes in production)');
  }
  const metricsToken = env['METRICS_TOKEN'] || undefined;
  const metricsPort = readOptionalPort(env, 'METRICS_PORT');
  if (metricsPort !== undefined && metricsPort !== 0 && metricsPort === readInt(env, 'PORT', 3000, 0, 65535)) {
    throw new ConfigError('METRICS_PORT', 'must differ from PORT (metrics are kept off the public port)');
  }
  if (production) {
    // Metrics name every route, error count and version: on the public port only behind a token.
    if (metricsToken) assertStrongSecret('METRICS_TOKEN', metricsToken);
    else if (metricsPort === undefined) {
      throw new ConfigError('METRICS_TOKEN', 'is required in production unless METRICS_PORT keeps /metrics off PORT');
    }
    assertSecretsApart([
      ['JWT_SECRET', jwt.algorithm === 'HS256' ? jwt.signingKey : undefined],
      ['JWT_PREVIOUS_SECRET', jwt.algorithm === 'HS256' ? jwt.previousVerifyKeys[0] : undefined],
      ['ADMIN_TOKEN', adminToken],
      ['METRICS_TOKEN', metricsToken],
    ]);
  }

  const logLevel = (env['LOG_LEVEL']?.trim() || (nodeEnv === 'test' ? 'warn' : 'info')) as LogLevel;
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', 'must be fatal, error, warn, info, debug, trace or silent');
  }

  const publicUrl = readUrl(env, 'PUBLIC_URL', ['http:', 'https:']);

  return {
    env: nodeEnv,
    port: readInt(env, 'PORT', 3000, 0, 65535),
    host: readHost(env, production),
    ...(mongodbUri ? { mongodbUri } : {}),
    ...(redisUrl ? { redisUrl } : {}),
    dataDir,
    jwt,
    ...(adminToken ? { adminToken } : {}),
    ...(metricsToken ? { metricsToken } : {}),
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    corsOrigins: readCorsOrigins(env),
    logLevel,
    trustProxy: readTrustProxy(env),
    ...(publicUrl ? { publicUrl } : {}),
    messageMaxLength: readInt(env, 'MESSAGE_MAX_LENGTH', LIMITS.messageTextDefaultMax, 1, LIMITS.messageTextHardMax),
    rateLimits: {
      anonymousPerMinute: readInt(env, 'RATE_LIMIT_ANONYMOUS_PER_MINUTE', 100, 1, 1_000_000_000),
      messagesPerMinute: readInt(env, 'RATE_LIMIT_MESSAGES_PER_MINUTE', 120, 1, 1_000_000_000),
      conversationsPerMinute: readInt(env, 'RATE_LIMIT_CONVERSATIONS_PER_MINUTE', 20, 1, 1_000_000_000),
      loginPerMinute: readInt(env, 'RATE_LIMIT_LOGIN_PER_MINUTE', 10, 1, 1_000_000_000),
      commandsPerMinute: readInt(env, 'RATE_LIMIT_COMMANDS_PER_MINUTE', 600, 1, 1_000_000_000),
      activityPerMinute: readInt(env, 'RATE_LIMIT_ACTIVITY_PER_MINUTE', 60, 1, 1_000_000_000),
    },
    connectionCaps: {
      perUser: readInt(env, 'SOCKETS_PER_USER', 20, 1, 1_000_000_000),
      perAddress: readInt(env, 'SOCKETS_PER_ADDRESS', 500, 1, 1_000_000_000),
    },
    verifiedTokenMaxLifetimeSeconds: readDuration(env, 'VERIFIED_TOKEN_MAX_LIFETIME', '1h'),
    secretRotationGraceSeconds: readDuration(env, 'SECRET_ROTATION_GRACE', '24h'),
    recoveryWindowMs: readDuration(env, 'RECOVERY_WINDOW', '2m') * 1000,
    socketSendBufferLimit: readBytes(env, 'SOCKET_SEND_BUFFER_LIMIT', '4mb', 64 * 1024, 1024 ** 3),
    redisStreamMaxLen: readInt(env, 'REDIS_STREAM_MAXLEN', 100_000, 1_000, 100_000_000),
    redisKeyPrefix: readKeyPrefix(env),
    seedDemo: readBool(env, 'SEED_DEMO', !mongodbUri),
    passwordScryptN,
    workflowSweepIntervalMs: readDurationMs(env, 'WORKFLOW_SWEEP_INTERVAL', '5s', 50, 3_600_000),
    presenceGraceMs: readDurationMs(env, 'PRESENCE_GRACE', '30s', 100, 24 * 3600_000),
    routingSweepMs: readDurationMs(env, 'ROUTING_SWEEP_INTERVAL', '5s', 100, 3600_000),
    imports: {
      leaseMs: readDurationMs(env, 'IMPORT_LEASE', '30s', 500, 3_600_000),
      pollMs: readDurationMs(env, 'IMPORT_POLL_INTERVAL', '2s', 50, 3_600_000),
    },
    webhooks: readWebhooks(env, production),
    activity: {
      maxPerLead: readInt(env, 'ACTIVITY_MAX_PER_LEAD', 1000, 1, 1_000_000),
      liveTtlMs: readDurationMs(env, 'LIVE_VISITOR_TTL', '60s', 300, 3_600_000),
      lastSeenIntervalMs: readDurationMs(env, 'LAST_SEEN_INTERVAL', '60s', 0, 3_600_000),
    },
  };
}

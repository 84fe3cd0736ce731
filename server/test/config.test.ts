import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, parseDurationSeconds } from '../src/config';
import { secretsTooAlike, secretWeakness } from '../src/secret-strength';

/** A fresh RSA key pair as environment values, `\n` escaped as in an env file. */
function pem(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const priv = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().replace(/\n/g, '\\n');
  const pub = publicKey.export({ type: 'spki', format: 'pem' }).toString().replace(/\n/g, '\\n');
  return { privateKey: priv, publicKey: pub };
}

/** A production environment that starts: strong secrets, metrics on a port of their own. */
const STRONG_PRODUCTION = {
  NODE_ENV: 'production',
  MONGODB_URI: 'mongodb://db:27017/parley',
  JWT_SECRET: 'q8Vd2kLx9PzR4mWc7NbT1yHs6GfJ3aEu',
  ADMIN_TOKEN: 'Zx81Kq0Lm2Nv9Bc7Xa6Sd5Fg4Hj3Qw1E',
  METRICS_PORT: '9100',
} as const;

describe('configuration', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-config-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('runs on embedded defaults in development', () => {
    const config = loadConfig({ DATA_DIR: dataDir });
    expect(config).toMatchObject({
      env: 'development',
      port: 3000,
      host: '127.0.0.1',
      seedDemo: true,
      messageMaxLength: 4000,
      passwordScryptN: 2 ** 17,
    });
    expect(config.mongodbUri).toBeUndefined();
    expect(config.redisUrl).toBeUndefined();
    expect(config.jwt).toMatchObject({ algorithm: 'HS256', visitorTtlSeconds: 90 * 86400, agentTtlSeconds: 12 * 3600 });
    expect(config.rateLimits).toEqual({
      anonymousPerMinute: 100,
      messagesPerMinute: 120,
      conversationsPerMinute: 20,
      loginPerMinute: 10,
      commandsPerMinute: 600,
      activityPerMinute: 60,
    });
  });

  it('keeps a generated development JWT secret in DATA_DIR, owner-readable only', () => {
    const first = loadConfig({ DATA_DIR: dataDir });
    const second = loadConfig({ DATA_DIR: dataDir });
    expect(first.jwt.signingKey).toBe(second.jwt.signingKey);
    const file = path.join(dataDir, 'jwt-secret');
    expect(readFileSync(file, 'utf8').trim()).toBe(first.jwt.signingKey);
    expect(statSync(file).mode & 0o077).toBe(0);
  });

  it.each([
    [{ NODE_ENV: 'production' }, 'MONGODB_URI'],
    [{ NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/parley' }, 'JWT_SECRET'],
    [{ NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/parley', JWT_SECRET: 'x'.repeat(31) }, 'JWT_SECRET'],
    [{ NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/parley', JWT_SECRET: 'ab'.repeat(20) }, 'JWT_SECRET'],
    ...[
      '0123456789012345678901234567890123456789',
      'abcdefghijklmnopqrstuvwxyz0123456789',
      'your-super-secret-jwt-key-change-me',
      'ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba',
      'x7Kq2Lx7Kq2Lx7Kq2Lx7Kq2Lx7Kq2Lx7Kq2Lx7Kq2L',
    ].map((secret) => [
      { NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/parley', JWT_SECRET: secret },
      'JWT_SECRET',
    ]),
    [{ ...STRONG_PRODUCTION, ADMIN_TOKEN: STRONG_PRODUCTION.JWT_SECRET }, 'ADMIN_TOKEN'],
    ...[
      `${STRONG_PRODUCTION.JWT_SECRET}x`,
      STRONG_PRODUCTION.JWT_SECRET.toUpperCase(),
      `ab${STRONG_PRODUCTION.JWT_SECRET.slice(2, 20)}cd${STRONG_PRODUCTION.JWT_SECRET.slice(22)}`,
      `Zx81Kq0Lm2Nv9Bc7${STRONG_PRODUCTION.JWT_SECRET}`,
    ].map((token) => [{ ...STRONG_PRODUCTION, ADMIN_TOKEN: token }, 'ADMIN_TOKEN']),
    [{ ...STRONG_PRODUCTION, METRICS_TOKEN: STRONG_PRODUCTION.JWT_SECRET }, 'METRICS_TOKEN'],
    [{ ...STRONG_PRODUCTION, METRICS_TOKEN: STRONG_PRODUCTION.ADMIN_TOKEN.toLowerCase() }, 'METRICS_TOKEN'],
    [{ ...STRONG_PRODUCTION, JWT_PREVIOUS_SECRET: STRONG_PRODUCTION.JWT_SECRET }, 'JWT_PREVIOUS_SECRET'],
    [{ ...STRONG_PRODUCTION, JWT_PREVIOUS_SECRET: `${STRONG_PRODUCTION.ADMIN_TOKEN}1` }, 'ADMIN_TOKEN'],
    [
      {
        ...STRONG_PRODUCTION,
        JWT_PREVIOUS_SECRET: 'Mt5rB8wQ2zLk7VnX4cJ9pH6dF3gS1aYe',
        METRICS_TOKEN: 'Mt5rB8wQ2zLk7VnX4cJ9pH6dF3gS1aYE',
      },
      'METRICS_TOKEN',
    ],
    ...[
      'qwertyuiopasdfghjklzxcvbnmqwertyuiopasdfghjkl',
      'QWERTYuiop1234567890asdfghJKLzxcvbnm',
      'poiuytrewqlkjhgfdsamnbvcxz0987654321',
    ].map((secret) => [{ ...STRONG_PRODUCTION, JWT_SECRET: secret }, 'JWT_SECRET']),
    [{ ...STRONG_PRODUCTION, METRICS_TOKEN: 'x' }, 'METRICS_TOKEN'],
    [{ ...STRONG_PRODUCTION, METRICS_PORT: undefined }, 'METRICS_TOKEN'],
    [{ METRICS_PORT: '3000' }, 'METRICS_PORT'],
    [{ METRICS_PORT: 'nine' }, 'METRICS_PORT'],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV'],
    [{ PORT: '70000' }, 'PORT'],
    [{ MONGODB_URI: 'postgres://db' }, 'MONGODB_URI'],
    [{ JWT_ALGORITHM: 'none' }, 'JWT_ALGORITHM'],
    [{ JWT_ALGORITHM: 'RS256' }, 'JWT_PRIVATE_KEY'],
    [{ CORS_ORIGINS: 'https://ok.test, not an origin' }, 'CORS_ORIGINS'],
    [{ MESSAGE_MAX_LENGTH: '100000' }, 'MESSAGE_MAX_LENGTH'],
    [{ AGENT_TOKEN_TTL: '12 hours' }, 'AGENT_TOKEN_TTL'],
    [{ MONGODB_URI: 'mongodb://' }, 'MONGODB_URI'],
    [{ HOST: 'not_a_host' }, 'HOST'],
    [{ HOST: 'a b' }, 'HOST'],
    [{ PASSWORD_SCRYPT_N: '10000' }, 'PASSWORD_SCRYPT_N'],
    [{ PASSWORD_SCRYPT_N: '512' }, 'PASSWORD_SCRYPT_N'],
    [{ NODE_ENV: 'production', PASSWORD_SCRYPT_N: '16384' }, 'PASSWORD_SCRYPT_N'],
  ] as [Record<string, string | undefined>, string][])('refuses %j naming %s', (env, variable) => {
    let error: unknown;
    try {
      loadConfig({ DATA_DIR: dataDir, ...env });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
  });

  it('accepts a strong production configuration', () => {
    const config = loadConfig({
      DATA_DIR: dataDir,
      NODE_ENV: 'production',
      MONGODB_URI: 'mongodb://db:27017/parley',
      REDIS_URL: 'redis://cache:6379',
      JWT_SECRET: 'q8Vd2kLx9PzR4mWc7NbT1yHs6GfJ3aEu',
      ADMIN_TOKEN: 'Zx81Kq0Lm2Nv9Bc7Xa6Sd5Fg4Hj3Qw1E',
      METRICS_PORT: '9100',
      CORS_ORIGINS: 'https://console.acme.test',
    });
    expect(config).toMatchObject({
      env: 'production',
      host: '0.0.0.0',
      seedDemo: false,
      corsOrigins: ['https://console.acme.test'],
      metricsPort: 9100,
    });
  });

  it('accepts production metrics on the public port behind a strong METRICS_TOKEN', () => {
    const { METRICS_PORT: _port, ...shared } = STRONG_PRODUCTION;
    const config = loadConfig({ DATA_DIR: dataDir, ...shared, METRICS_TOKEN: 'Mt5rB8wQ2zLk7VnX4cJ9pH6dF3gS1aYe' });
    expect(config.metricsPort).toBeUndefined();
    expect(config.metricsToken).toBe('Mt5rB8wQ2zLk7VnX4cJ9pH6dF3gS1aYe');
  });

  it('accepts distinct random production secrets in every variable, previous JWT secret included', () => {
    const config = loadConfig({
      DATA_DIR: dataDir,
      ...STRONG_PRODUCTION,
      JWT_PREVIOUS_SECRET: randomBytes(32).toString('base64'),
      METRICS_TOKEN: randomBytes(32).toString('hex'),
    });
    expect(config.jwt.previousVerifyKeys).toHaveLength(1);
  });

  it('never refuses random secrets (openssl rand -base64 32, hex of 32 random bytes) nor finds two alike', () => {
    const generators = [
      () => randomBytes(32).toString('base64'),
      () => randomBytes(32).toString('hex'),
      () => randomBytes(32).toString('base64url'),
    ];
    const refused: string[] = [];
    for (let i = 0; i < 1500; i++) {
      for (const generate of generators) {
        const [secret, other] = [generate(), generate()];
        if (secretWeakness(secret) !== undefined || secretsTooAlike(secret, other)) refused.push(`${secret} ${other}`);
      }
    }
    expect(refused).toEqual([]);
  });

  it('takes MongoDB connection strings that are not URLs (several hosts)', () => {
    const uri = 'mongodb://u:p@h1:27017,h2:27017,h3:27017/parley?replicaSet=rs0&authSource=admin';
    expect(loadConfig({ DATA_DIR: dataDir, MONGODB_URI: uri }).mongodbUri).toBe(uri);
    expect(loadConfig({ DATA_DIR: dataDir, MONGODB_URI: 'mongodb+srv://cluster0.example.net/parley' }).mongodbUri).toBe(
      'mongodb+srv://cluster0.example.net/parley',
    );
  });

  it.each([
    [
      'an unreadable private key',
      { JWT_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\\nxx\\n-----END PRIVATE KEY-----' },
      'RS256',
      'JWT_PRIVATE_KEY',
    ],
    ['an RSA key for ES256', {}, 'ES256', 'JWT_PRIVATE_KEY'],
    ['a public key of another pair', { JWT_PUBLIC_KEY: pem().publicKey }, 'RS256', 'JWT_PUBLIC_KEY'],
  ])('refuses %s, naming the variable', (_name, override, algorithm, variable) => {
    const keys = pem();
    const env = {
      DATA_DIR: dataDir,
      JWT_ALGORITHM: algorithm,
      JWT_PRIVATE_KEY: keys.privateKey,
      JWT_PUBLIC_KEY: keys.publicKey,
      ...override,
    };
    expect(() => loadConfig(env)).toThrow(expect.objectContaining({ variable }));
  });

  it('accepts a matching RS256 key pair', () => {
    const keys = pem();
    const config = loadConfig({
      DATA_DIR: dataDir,
      JWT_ALGORITHM: 'RS256',
      JWT_PRIVATE_KEY: keys.privateKey,
      JWT_PUBLIC_KEY: keys.publicKey,
    });
    expect(config.jwt.algorithm).toBe('RS256');
    expect(config.jwt.verifyKey).toContain('-----BEGIN PUBLIC KEY-----\n');
  });

  it('names DATA_DIR when it is a file', () => {
    const file = path.join(dataDir, 'a-file');
    writeFileSync(file, 'x');
    expect(() => loadConfig({ DATA_DIR: file })).toThrow(expect.objectContaining({ variable: 'DATA_DIR' }));
  });

  it('reads durations with units', () => {
    expect(parseDurationSeconds('X', '90d')).toBe(7_776_000);
    expect(parseDurationSeconds('X', '12h')).toBe(43_200);
    expect(parseDurationSeconds('X', '3600')).toBe(3600);
    expect(() => parseDurationSeconds('X', '0s')).toThrow(ConfigError);
  });

  it('sweeps the workflow every 5 s by default, as often as every 50 ms when asked', () => {
    expect(loadConfig({ DATA_DIR: dataDir }).workflowSweepIntervalMs).toBe(5000);
    expect(loadConfig({ DATA_DIR: dataDir, WORKFLOW_SWEEP_INTERVAL: '250ms' }).workflowSweepIntervalMs).toBe(250);
    expect(loadConfig({ DATA_DIR: dataDir, WORKFLOW_SWEEP_INTERVAL: '1m' }).workflowSweepIntervalMs).toBe(60_000);
    for (const value of ['10ms', '2h', 'often'])
      expect(() => loadConfig({ DATA_DIR: dataDir, WORKFLOW_SWEEP_INTERVAL: value })).toThrow(
        expect.objectContaining({ variable: 'WORKFLOW_SWEEP_INTERVAL' }),
      );
  });

  it('reads SOCKET_SEND_BUFFER_LIMIT as a size, 4 MB by default, at least 64 KB', () => {
    expect(loadConfig({ DATA_DIR: dataDir }).socketSendBufferLimit).toBe(4 * 1024 * 1024);
    const limit = (value: string) =>
      loadConfig({ DATA_DIR: dataDir, SOCKET_SEND_BUFFER_LIMIT: value }).socketSendBufferLimit;
    expect(limit('512kb')).toBe(512 * 1024);
    expect(limit('16MB')).toBe(16 * 1024 * 1024);
    expect(limit('262144')).toBe(262_144);
    for (const bad of ['1kb', '4 megabytes', '-1', '2gb']) {
      expect(() => limit(bad)).toThrow(expect.objectContaining({ variable: 'SOCKET_SEND_BUFFER_LIMIT' }));
    }
  });

  it('reads the presence grace period and the routing sweep, in milliseconds too', () => {
    const defaults = loadConfig({ DATA_DIR: dataDir });
    expect(defaults).toMatchObject({ presenceGraceMs: 30_000, routingSweepMs: 5_000 });
    const short = loadConfig({ DATA_DIR: dataDir, PRESENCE_GRACE: '1500ms', ROUTING_SWEEP_INTERVAL: '1s' });
    expect(short).toMatchObject({ presenceGraceMs: 1_500, routingSweepMs: 1_000 });
    expect(loadConfig({ DATA_DIR: dataDir, PRESENCE_GRACE: '2m' }).presenceGraceMs).toBe(120_000);
    for (const bad of ['soon', '10ms', '-1s']) {
      expect(() => loadConfig({ DATA_DIR: dataDir, PRESENCE_GRACE: bad })).toThrow(
        expect.objectContaining({ variable: 'PRESENCE_GRACE' }),
      );
    }
  });

  it('reads the webhook settings: a retry schedule, private destinations allowed outside production only', () => {
    const development = loadConfig({ DATA_DIR: dataDir });
    expect(development.webhooks).toEqual({
      retryDelaysMs: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
      timeoutMs: 10_000,
      allowPrivate: true,
      disableAfterMs: 3 * 86_400_000,
      maxInFlight: 64,
      maxInFlightPerWebhook: 8,
    });
    expect(loadConfig({ ...STRONG_PRODUCTION, DATA_DIR: dataDir }).webhooks.allowPrivate).toBe(false);
    expect(
      loadConfig({ ...STRONG_PRODUCTION, DATA_DIR: dataDir, WEBHOOK_ALLOW_PRIVATE: 'true' }).webhooks.allowPrivate,
    ).toBe(true);
    expect(loadConfig({ DATA_DIR: dataDir, WEBHOOK_RETRY_DELAYS: '1s, 1s,2m' }).webhooks.retryDelaysMs).toEqual([
      1000, 1000, 120_000,
    ]);
    for (const [variable, value] of [
      ['WEBHOOK_RETRY_DELAYS', '1s,,2s'],
      ['WEBHOOK_RETRY_DELAYS', 'soon'],
      ['WEBHOOK_TIMEOUT', '10m'],
      ['WEBHOOK_ALLOW_PRIVATE', 'maybe'],
      ['WEBHOOK_MAX_IN_FLIGHT', '0'],
    ] as const)
      expect(() => loadConfig({ DATA_DIR: dataDir, [variable]: value })).toThrow(expect.objectContaining({ variable }));
  });
});

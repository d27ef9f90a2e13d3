import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, DEV_JWT_SECRET, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('fills every default and a per-service port', () => {
    const users = loadConfig('users', {});
    expect(users.port).toBe(4000);
    expect(loadConfig('chat', {}).port).toBe(8080);
    expect(loadConfig('ingestion', {}).port).toBe(9090);
    expect(users).toMatchObject({
      service: 'users',
      NODE_ENV: 'development',
      REDIS_URL: 'redis://127.0.0.1:6379',
      SQLITE_PATH: '.data/aurora.db',
      JWT_SECRET: DEV_JWT_SECRET,
      PARTITIONS: 1,
      ACCESS_TOKEN_TTL_SEC: 900,
      BCRYPT_COST: 10,
      LOGIN_MAX_FAILURES: 10,
      LOGIN_WINDOW_SEC: 900,
      PUBLIC_WS_URL: '',
      FRONTEND_DIR: 'frontend',
      TRUST_PROXY: false,
      ALLOWED_ORIGINS: ['http://localhost:4000', 'http://127.0.0.1:4000'],
      store: 'sqlite',
      isProduction: false,
      prettyLogs: true,
    });
    expect(users.MONGO_URL).toBeUndefined();
    expect(users.replicaId).toMatch(/^users-/);
  });

  it('gives every service an admin port of its own: PORT + 10000 unless ADMIN_PORT says otherwise', () => {
    expect((['users', 'chat', 'ingestion', 'assistant'] as const).map((s) => loadConfig(s, {}).adminPort)).toEqual([14000, 18080, 19090, 19091]);
    // follows PORT, so a second replica on the same machine does not collide
    expect(loadConfig('chat', { PORT: '8081' }).adminPort).toBe(18081);
    expect(loadConfig('chat', { PORT: '8081', ADMIN_PORT: '9464' }).adminPort).toBe(9464);
    // PORT=0 (any free port): the admin port too, never the same one
    expect(loadConfig('chat', { PORT: '0' }).adminPort).toBe(0);
    expect(loadConfig('chat', { PORT: '0', ADMIN_PORT: '0' }).adminPort).toBe(0);
    expect(loadConfig('chat', { ADMIN_PORT: '' }).adminPort).toBe(18080);
  });

  it.each([
    [{ ADMIN_PORT: '8080' }, /^invalid ADMIN_PORT="8080": must differ from PORT$/],
    [{ PORT: '60000' }, /^invalid ADMIN_PORT="": its default, PORT \+ 10000 \(70000\), is past 65535; set it$/],
    [{ ADMIN_PORT: '70000' }, /^invalid ADMIN_PORT="70000"/],
    [{ ADMIN_PORT: 'metrics' }, /^invalid ADMIN_PORT="metrics"/],
  ])('refuses the admin port %o with one line naming ADMIN_PORT', (env, message) => {
    expect(() => loadConfig('chat', env)).toThrow(ConfigError);
    expect(() => loadConfig('chat', env)).toThrow(message);
  });

  it('returns a frozen object', () => {
    const config = loadConfig('users', {});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.ALLOWED_ORIGINS)).toBe(true);
    expect(() => {
      (config as { PORT?: number }).PORT = 1;
    }).toThrow();
  });

  it('parses numbers, booleans and lists, and treats empty strings as unset', () => {
    const c = loadConfig('users', {
      PORT: '4100',
      BCRYPT_COST: '4',
      TRUST_PROXY: 'yes',
      ALLOWED_ORIGINS: ' https://a.example , https://b.example,,',
      MONGO_URL: '',
      REPLICA_ID: 'users-7',
      LOG_PRETTY: 'false',
    });
    expect(c.port).toBe(4100);
    expect(c.BCRYPT_COST).toBe(4);
    expect(c.TRUST_PROXY).toBe(true);
    expect(c.ALLOWED_ORIGINS).toEqual(['https://a.example', 'https://b.example']);
    expect(c.store).toBe('sqlite');
    expect(c.replicaId).toBe('users-7');
    expect(c.prettyLogs).toBe(false);
    expect(loadConfig('users', { MONGO_URL: 'mongodb://db/aurora' }).store).toBe('mongo');
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['REDIS_URL', 'not a url'],
    ['BCRYPT_COST', '3'],
    ['BCRYPT_COST', '4.5'],
    ['LOGIN_MAX_FAILURES', '0'],
    ['NODE_ENV', 'staging'],
    ['TRUST_PROXY', 'maybe'],
    ['LOG_LEVEL', 'loud'],
  ])('a bad %s (%s) throws one line naming the variable', (name, value) => {
    let error: unknown;
    try {
      loadConfig('users', { [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message.startsWith(`invalid ${name}=`)).toBe(true);
    expect(message).toContain(JSON.stringify(value));
    expect(message).not.toContain('\n');
  });

  describe('JWT_SECRET in production', () => {
    it('refuses the development default', () => {
      expect(() => loadConfig('users', { NODE_ENV: 'production' })).toThrow(/^invalid JWT_SECRET: /);
    });

    it('is not needed by ingestion workers, which never sign or verify tokens', () => {
      expect(loadConfig('ingestion', { NODE_ENV: 'production' }).isProduction).toBe(true);
      expect(() => loadConfig('chat', { NODE_ENV: 'production' })).toThrow(/^invalid JWT_SECRET: /);
    });

    it('refuses a secret shorter than 32 characters, without echoing it', () => {
      let message = '';
      try {
        loadConfig('chat', { NODE_ENV: 'production', JWT_SECRET: 'a'.repeat(31) });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/^invalid JWT_SECRET: /);
      expect(message).not.toContain('a'.repeat(31));
      expect(message).not.toContain('\n');
    });

    it('accepts a secret of 32 characters or more', () => {
      const c = loadConfig('users', { NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32) });
      expect(c.isProduction).toBe(true);
      expect(c.prettyLogs).toBe(false);
    });

    it('allows the default outside production', () => {
      expect(loadConfig('users', { NODE_ENV: 'test' }).JWT_SECRET).toBe(DEV_JWT_SECRET);
    });
  });

  describe('listen address and the public development secret', () => {
    const SECRET = 's'.repeat(32);

    it('listens on 127.0.0.1 by default outside production, on 0.0.0.0 in production', () => {
      expect(loadConfig('users', {}).HOST).toBe('127.0.0.1');
      expect(loadConfig('chat', { NODE_ENV: 'development' }).HOST).toBe('127.0.0.1');
      expect(loadConfig('ingestion', { NODE_ENV: 'test' }).HOST).toBe('127.0.0.1');
      expect(loadConfig('users', { NODE_ENV: 'production', JWT_SECRET: SECRET }).HOST).toBe('0.0.0.0');
      expect(loadConfig('ingestion', { NODE_ENV: 'production' }).HOST).toBe('0.0.0.0');
      expect(loadConfig('chat', { NODE_ENV: 'production', JWT_SECRET: SECRET, HOST: '10.1.2.3' }).HOST).toBe('10.1.2.3');
      expect(loadConfig('users', { HOST: '' }).HOST).toBe('127.0.0.1'); // empty = unset
    });

    it('refuses the default JWT_SECRET on a non-loopback HOST when NODE_ENV is not set, in one line naming HOST', () => {
      for (const service of ['users', 'chat'] as const) {
        for (const HOST of ['0.0.0.0', '::', '192.0.2.7', 'fd00::2', 'chat.example.com']) {
          for (const NODE_ENV of [undefined, '']) {
            let error: unknown;
            try {
              loadConfig(service, { HOST, NODE_ENV });
            } catch (err) {
              error = err;
            }
            expect(error, `${service} HOST=${HOST} NODE_ENV=${String(NODE_ENV)}`).toBeInstanceOf(ConfigError);
            const message = (error as Error).message;
            expect(message.startsWith(`invalid HOST=${JSON.stringify(HOST)}: `)).toBe(true);
            expect(message).toContain('JWT_SECRET');
            expect(message).not.toContain(DEV_JWT_SECRET);
            expect(message).not.toContain('\n');
          }
        }
      }
    });

    it('allows a non-loopback HOST with the default secret only when NODE_ENV says development or test', () => {
      expect(loadConfig('users', { HOST: '0.0.0.0', NODE_ENV: 'development' }).HOST).toBe('0.0.0.0');
      expect(loadConfig('chat', { HOST: '0.0.0.0', NODE_ENV: 'test' }).HOST).toBe('0.0.0.0');
    });

    it('allows any HOST with a secret of its own, and loopback addresses with the default', () => {
      expect(loadConfig('users', { HOST: '0.0.0.0', JWT_SECRET: 'my-own-dev-secret' }).HOST).toBe('0.0.0.0');
      for (const HOST of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) {
        expect(loadConfig('chat', { HOST }).HOST).toBe(HOST);
      }
    });

    it('does not apply to ingestion workers, which never sign or verify tokens', () => {
      expect(loadConfig('ingestion', { HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
    });

    it('keeps production strict: the default secret is refused on any HOST', () => {
      expect(() => loadConfig('users', { NODE_ENV: 'production', HOST: '127.0.0.1' })).toThrow(/^invalid JWT_SECRET: /);
    });
  });

  it('refuses a chat room log no longer than RECOVERY_MAX (a subscriber recovery could then miss messages silently)', () => {
    expect(() => loadConfig('chat', { ROOM_LOG_MAXLEN: '10' })).toThrow(ConfigError);
    expect(() => loadConfig('chat', { ROOM_LOG_MAXLEN: '60', RECOVERY_MAX: '60' })).toThrow(/ROOM_LOG_MAXLEN.*RECOVERY_MAX/);
    expect(loadConfig('chat', { ROOM_LOG_MAXLEN: '61', RECOVERY_MAX: '60' }).ROOM_LOG_MAXLEN).toBe(61);
  });

  it('lists every variable of the schema in CONFIG_VARIABLES', () => {
    for (const name of ['PORT', 'REDIS_URL', 'MONGO_URL', 'SQLITE_PATH', 'JWT_SECRET', 'ALLOWED_ORIGINS', 'PARTITIONS', 'BCRYPT_COST']) {
      expect(CONFIG_VARIABLES).toContain(name);
    }
  });
});

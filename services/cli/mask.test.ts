// What the CLI may print of a setting: secrets never, URLs without their credentials but with
// their host and port, and a malformed URL over-masked rather than under.
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '../shared/config.js';
import { isSecretName, mayEchoInvalid, maskSetting, maskUrl } from './mask.js';

describe('mask', () => {
  it('masks the password of a URL and keeps scheme, user, hosts, ports, path and harmless options', () => {
    expect(maskUrl('redis://default:s3cr3t@redis.internal:6380/2')).toBe('redis://default:***@redis.internal:6380/2');
    expect(maskUrl('rediss://:s3cr3t@cache:6379')).toBe('rediss://:***@cache:6379');
    expect(maskUrl('mongodb+srv://aurora:p%40ss@cluster0.example.net/chat?retryWrites=true&w=majority'))
      .toBe('mongodb+srv://aurora:***@cluster0.example.net/chat?retryWrites=true&w=majority');
    expect(maskUrl('mongodb://u:pw@m1:27017,m2:27017/chat?replicaSet=rs0&authSource=admin'))
      .toBe('mongodb://u:***@m1:27017,m2:27017/chat?replicaSet=rs0&authSource=admin');
    expect(maskUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });

  it('masks a user-only userinfo (some providers put the secret there) and secret-named options', () => {
    expect(maskUrl('redis://tokenonly@host:6379')).toBe('redis://***@host:6379');
    expect(maskUrl('mongodb://h:1/db?authSource=admin&password=pw1&tlsCertificateKeyFilePassword=pw2&authMechanismProperties=AWS_SESSION_TOKEN:t'))
      .toBe('mongodb://h:1/db?authSource=admin&password=***&tlsCertificateKeyFilePassword=***&authMechanismProperties=***');
  });

  it('over-masks a malformed URL: everything up to the last @ is taken as credentials', () => {
    const masked = maskUrl('redis://user:pa@ss:w@rd@host:6379');
    expect(masked).toBe('redis://user:***@host:6379');
    for (const part of ['pa', 'ss:w', 'rd@']) expect(masked).not.toContain(`:${part}`);
  });

  it('hides every secret-named setting config.ts has (and any added later with such a name)', () => {
    const secret = CONFIG_VARIABLES.filter(isSecretName);
    expect(secret).toEqual(expect.arrayContaining(['JWT_SECRET', 'ASSISTANT_API_KEY', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']));
    for (const name of secret) expect(maskSetting(name, 'anything-at-all')).toBe('***');
    for (const name of ['VAPID_PRIVATE_KEY', 'SMTP_PASSWORD', 'GITHUB_TOKEN']) expect(isSecretName(name)).toBe(true);
    // Lifetimes of tokens are not tokens.
    for (const name of ['ACCESS_TOKEN_TTL_SEC', 'REFRESH_TOKEN_TTL_SEC', 'ASSISTANT_MAX_TOKENS', 'PARTITIONS']) expect(isSecretName(name)).toBe(false);
    expect(maskSetting('PARTITIONS', '4')).toBe('4');
  });

  it('never echoes an invalid URL or secret in an error, only plain values', () => {
    expect(mayEchoInvalid('PARTITIONS', 'zero')).toBe(true);
    expect(mayEchoInvalid('REDIS_URL', 'redis://u:pw@host:port')).toBe(false);
    expect(mayEchoInvalid('MONGO_URL', 'u:pw@host')).toBe(false);
    expect(mayEchoInvalid('JWT_SECRET', 'x')).toBe(false);
  });
});

// The REST calls end-to-end tests make against a real users service: JSON in, status + JSON out,
// and signing up a user (register + login) in one step.
import { expect } from 'vitest';

export interface Session {
  token: string;
  refreshToken: string;
  user: { id: string; username: string };
}

export const PASSWORD = 'a long enough password';

export type Api = <T = any>(method: string, path: string, body?: unknown, token?: string) => Promise<{ status: number; json: T }>;

/** `api(method, path, body?, token?)` against `baseUrl()` (a function: the service starts later). */
export function apiClient(baseUrl: () => string): { api: Api; signUp: (username: string) => Promise<Session> } {
  const api: Api = async (method, path, body, token) => {
    const res = await fetch(baseUrl() + path, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  };
  const signUp = async (username: string): Promise<Session> => {
    expect((await api('POST', '/api/auth/register', { username, password: PASSWORD })).status).toBe(201);
    const login = await api<Session>('POST', '/api/auth/login', { username, password: PASSWORD });
    expect(login.status).toBe(200);
    return login.json;
  };
  return { api, signUp };
}

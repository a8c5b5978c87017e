// The daemon's /v1 API as the browser uses it: JSON calls, NDJSON streams and
// the attach WebSocket. Every state-changing call carries X-Clauderon-Request,
// which the server's guard requires (another site's page cannot send it).

export type Status = 'creating' | 'running' | 'exited' | 'failed' | 'archived';

export interface Session {
  id: string;
  name: string;
  agent: string;
  backend: string;
  image: string;
  repo?: string;
  worktree?: string;
  branch?: string;
  prompt: string;
  mode: 'interactive' | 'print';
  access_mode: AccessMode;
  allow?: string[];
  status: Status;
  exit_code?: number;
  cpus?: number;
  memory_bytes?: number;
  error?: string;
  manual?: boolean;
  created_at: string;
  updated_at: string;
}

export type AccessMode = 'read-write' | 'read-only';

/** ProxyEnv is a freshly minted proxy token: the daemon shows it only once. */
export interface ProxyEnv {
  session: string;
  token: string;
  args: string[];
}

export interface PullResult {
  session: string;
  branch?: string;
  commit?: string;
  message: string;
}

export interface CreateRequest {
  name: string;
  prompt: string;
  repo?: string;
  agent?: string;
  image?: string;
  backend?: string;
  print?: boolean;
  access_mode?: string;
  allow?: string[];
}

export interface AuditEvent {
  ts: string;
  session: string;
  method: string;
  host: string;
  path: string;
  status: number;
  auth_injected: boolean;
  rule: string;
  decision: string;
  error: string;
}

export interface SessionEvent {
  type: 'sync' | 'created' | 'updated' | 'deleted';
  session?: Session;
  sessions?: Session[];
}

/** ApiError is the daemon's {"error":{"code","message"}}. */
export class ApiError extends Error {
  constructor(public code: string, message: string, public status: number) {
    super(message);
  }
}

/** Called when a call answers 401: the page shows the login form. */
export let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(fn: () => void) {
  onUnauthorized = fn;
}

async function errorOf(resp: Response): Promise<ApiError> {
  try {
    const body = await resp.json();
    if (body && body.error && body.error.code) {
      return new ApiError(body.error.code, body.error.message, resp.status);
    }
  } catch {
    // not the daemon's error body
  }
  return new ApiError('internal', `unexpected answer from the daemon: ${resp.status} ${resp.statusText}`, resp.status);
}

async function send(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { 'X-Clauderon-Request': '1' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp: Response;
  try {
    resp = await fetch(path, {
      method, headers, signal, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new ApiError('unavailable', 'cannot reach the clauderon daemon: is it running?', 0);
  }
  if (!resp.ok) {
    const err = await errorOf(resp);
    if (resp.status === 401) onUnauthorized();
    throw err;
  }
  return resp;
}

async function json<T>(method: string, path: string, body?: unknown): Promise<T> {
  const resp = await send(method, path, body);
  return resp.json() as Promise<T>;
}

const sp = (name: string) => `/v1/sessions/${encodeURIComponent(name)}`;

export const api = {
  health: () => json<{ version: string }>('GET', '/v1/health'),
  create: (req: CreateRequest) => json<Session>('POST', '/v1/sessions', req),
  get: (name: string) => json<Session>('GET', sp(name)),
  start: (name: string) => json<Session>('POST', sp(name) + '/start'),
  stop: (name: string) => json<Session>('POST', sp(name) + '/stop'),
  archive: (name: string) => json<Session>('POST', sp(name) + '/archive'),
  unarchive: (name: string) => json<Session>('POST', sp(name) + '/unarchive'),
  setAccessMode: (name: string, mode: AccessMode) =>
    json<Session>('PUT', sp(name) + '/access-mode', { access_mode: mode }),
  pull: (name: string) => json<PullResult>('POST', sp(name) + '/pull'),
  reconcile: () => json<Session[]>('POST', '/v1/reconcile'),
  proxyEnv: (name: string) => json<ProxyEnv>('POST', '/v1/proxy-env', name ? { name } : undefined),
  remove: async (name: string, force: boolean) => {
    await send('DELETE', sp(name) + (force ? '?force=true' : ''));
  },
  audit: (name: string, limit: number) =>
    json<AuditEvent[]>('GET', `/v1/audit?session=${encodeURIComponent(name)}&limit=${limit}`),
  login: async (token: string) => {
    await send('POST', '/login', { token });
  },
  logout: async () => {
    await send('POST', '/logout');
  },
  attachURL: (name: string) =>
    `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${sp(name)}/attach`,
};

/**
 * ndjson reads a streamed JSON-lines answer and calls fn per value until the
 * stream ends or signal aborts. It resolves when the stream ends.
 */
export async function ndjson<T>(path: string, signal: AbortSignal, fn: (v: T) => void): Promise<void> {
  const resp = await send('GET', path, undefined, signal);
  await readChunks(resp, signal, (() => {
    let buf = '';
    const dec = new TextDecoder();
    return (chunk: Uint8Array) => {
      buf += dec.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (line) fn(JSON.parse(line) as T);
      }
    };
  })());
}

/** bytes streams a raw answer (a session's output) to fn. */
export async function bytes(path: string, signal: AbortSignal, fn: (chunk: Uint8Array) => void): Promise<void> {
  const resp = await send('GET', path, undefined, signal);
  await readChunks(resp, signal, fn);
}

async function readChunks(resp: Response, signal: AbortSignal, fn: (chunk: Uint8Array) => void) {
  if (!resp.body) return;
  const reader = resp.body.getReader();
  const stop = () => reader.cancel().catch(() => {});
  signal.addEventListener('abort', stop);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (value) fn(value);
    }
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

// The console's one way to the server: the HTTP API at /v1 with the signed-in user's bearer token.
// Nothing else is called, so the console can do exactly what the token's roles allow and shows
// the API's own refusals. Server-sent events are read with fetch (EventSource cannot send an
// Authorization header, and a token in a URL would end up in logs).

/** The signed-in user as GET /v1/me names them. */
export interface Session {
  token: string;
  principal: string;
  roles: string[];
  /** Epoch ms the token stops working, when known (an identity provider's access token): the console signs out then. */
  expiresAt?: number;
}

/** An error the API answered with. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const storageKey = 'aifactory.console.token';
const sessionKey = 'aifactory.console.session';

/** The token kept for this tab (sessionStorage: it goes when the tab closes). */
export function storedToken(): string | null {
  return sessionStorage.getItem(storageKey);
}

/** Keeps or forgets the tab's token (and with it the session last read for it). */
export function storeToken(token: string | null): void {
  sessionStorage.removeItem(sessionKey);
  if (token === null) sessionStorage.removeItem(storageKey);
  else sessionStorage.setItem(storageKey, token);
}

/**
 * The session GET /v1/me last answered for the tab's token, so a reload shows the page at once
 * while /v1/me is asked again (a revoked token then signs out). It only decides which links to
 * show: every request still carries the token and the API still decides.
 */
export function storedSession(): Session | null {
  const token = storedToken();
  try {
    const kept = JSON.parse(sessionStorage.getItem(sessionKey) ?? 'null') as Session | null;
    return kept &&
      kept.token === token &&
      typeof kept.principal === 'string' &&
      Array.isArray(kept.roles) &&
      (kept.expiresAt === undefined || kept.expiresAt > Date.now())
      ? kept
      : null;
  } catch {
    return null;
  }
}

/** Keeps the session read for the tab's token. */
export function storeSession(session: Session): void {
  sessionStorage.setItem(storageKey, session.token);
  sessionStorage.setItem(sessionKey, JSON.stringify(session));
}

// GET requests started before the page that needs them renders (see preload), by path.
const preloaded = new Map<string, { token: string; response: Promise<Response> }>();

/** Starts a GET now, for the page about to render to pick up (used once, by the same token and path). */
export function preload(token: string, path: string): void {
  const response = fetch(path, { headers: { authorization: `Bearer ${token}` } });
  response.catch(() => undefined);
  preloaded.set(path, { token, response });
}

/** Calls the API; a non-2xx answer throws ApiError with the server's message. */
export async function api<T>(
  token: string,
  path: string,
  init: { method?: 'GET' | 'POST'; body?: unknown; signal?: AbortSignal } = {},
): Promise<T> {
  const early = (init.method ?? 'GET') === 'GET' ? preloaded.get(path) : undefined;
  preloaded.delete(path);
  const response =
    early && early.token === token
      ? await early.response
      : await fetch(path, {
          method: init.method ?? 'GET',
          headers: { authorization: `Bearer ${token}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
          ...(init.signal ? { signal: init.signal } : {}),
        });
  if (!response.ok) throw await errorOf(response);
  return (await response.json()) as T;
}

/** Fetches a text body (exports, markdown). */
export async function apiText(token: string, path: string): Promise<string> {
  const response = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw await errorOf(response);
  return response.text();
}

async function errorOf(response: Response): Promise<ApiError> {
  let code = 'HTTP_' + response.status;
  let message = `The server answered ${response.status} ${response.statusText}.`;
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.message) message = body.error.message;
    if (body.error?.code) code = body.error.code;
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(response.status, code, message);
}

/** Signs in: the token is good when GET /v1/me accepts it (the principal and roles are the API's reading of it). */
export async function signIn(token: string, expiresAt?: number): Promise<Session> {
  const me = await api<{ principal: string; roles: string[] }>(token, '/v1/me');
  return { token, principal: me.principal, roles: me.roles, ...(expiresAt === undefined ? {} : { expiresAt }) };
}

/** One server-sent event. */
export interface StreamEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * Follows an SSE endpoint until `signal` aborts, reconnecting after a drop (1 s, then backing off
 * to 10 s). `onState` reports whether the stream is live, for the page to say so.
 */
export async function follow(
  token: string,
  path: string,
  onEvent: (event: StreamEvent) => void,
  signal: AbortSignal,
  onState?: (live: boolean) => void,
): Promise<void> {
  let delay = 1000;
  while (!signal.aborted) {
    try {
      const response = await fetch(path, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal });
      if (!response.ok || !response.body) throw await errorOf(response);
      onState?.(true);
      delay = 1000;
      await readEvents(response.body, onEvent);
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && (error.status === 401 || error.status === 404)) {
        onState?.(false);
        throw error;
      }
    }
    onState?.(false);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 10_000);
  }
}

async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (event: StreamEvent) => void): Promise<void> {
  const reader = body.pipeThrough(new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      const event: StreamEvent = { event: 'message', data: '' };
      const data: string[] = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event.event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id') event.id = value;
      }
      if (data.length > 0) onEvent({ ...event, data: data.join('\n') });
    }
  }
}

/** Whether the session holds one of `roles` (the API decides; this only hides what it would refuse). */
export function hasRole(session: Session, roles: readonly string[]): boolean {
  return session.roles.some((role) => roles.includes(role));
}

/** Saves text as a file through a blob link (exports need the token, so a plain link cannot fetch them). */
export function download(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// A local server that speaks Slack's incoming-webhook wire format, for tests: a POST of JSON with a
// `text` string or a `blocks` array is answered 200 "ok"; anything else 400 "invalid_payload" (or
// "no_text"); unknown paths 404 "no_service"; scripted answers give 429 with Retry-After, 403
// "invalid_token", 410 "channel_is_archived" or 500 "rollup_error", as Slack documents them.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A message Slack accepted. */
export interface SlackMessage {
  channel: string;
  headers: IncomingHttpHeaders;
  body: { text?: string; blocks?: Array<Record<string, unknown>> };
}

/** A scripted answer: a status (with Slack's body for it) and, for 429, a Retry-After in seconds. */
export type SlackAnswer = 200 | 400 | 403 | 404 | 410 | 500 | { status: 429; retryAfterSeconds: number };

const bodies: Record<number, string> = {
  200: 'ok',
  400: 'invalid_payload',
  403: 'invalid_token',
  404: 'no_service',
  410: 'channel_is_archived',
  429: 'rate_limited',
  500: 'rollup_error',
};

/** Starts a Slack-style webhook server on 127.0.0.1; `channels` are the channels it has webhooks for. */
export async function startSlackWebhookServer(channels: string[]) {
  const tokens = new Map(channels.map((channel, index) => [`/services/T0001/B000${index}/${'x'.repeat(16)}${index}`, channel]));
  const accepted: SlackMessage[] = [];
  const requests: Array<{ path: string; status: number }> = [];
  const script: SlackAnswer[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      const answer = (status: number, headers: Record<string, string> = {}) => {
        requests.push({ path, status });
        response.writeHead(status, { 'content-type': 'text/html', ...headers }).end(bodies[status] ?? 'error');
      };
      const channel = tokens.get(path);
      if (request.method !== 'POST' || !channel) return answer(404);
      const scripted = script.shift();
      if (scripted !== undefined && scripted !== 200)
        return typeof scripted === 'object' ? answer(429, { 'retry-after': String(scripted.retryAfterSeconds) }) : answer(scripted);
      let body: SlackMessage['body'];
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as SlackMessage['body'];
      } catch {
        return answer(400);
      }
      if (!String(request.headers['content-type'] ?? '').startsWith('application/json')) return answer(400);
      const hasText = typeof body.text === 'string' && body.text.trim() !== '';
      const hasBlocks =
        Array.isArray(body.blocks) && body.blocks.length > 0 && body.blocks.every((block) => typeof block?.type === 'string');
      if (!hasText && !hasBlocks) {
        requests.push({ path, status: 400 });
        return void response.writeHead(400, { 'content-type': 'text/html' }).end('no_text');
      }
      accepted.push({ channel, headers: request.headers, body });
      answer(200);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    /** The webhook URL of a channel (a secret, as Slack's are). */
    urlOf(channel: string): string {
      for (const [path, name] of tokens) if (name === channel) return `${base}${path}`;
      throw new Error(`no webhook for ${channel}`);
    },
    base,
    accepted,
    requests,
    /** Queues answers for the next requests. */
    answerNext(...answers: SlackAnswer[]) {
      script.push(...answers);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

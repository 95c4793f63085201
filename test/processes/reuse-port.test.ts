// One port, two API servers (real processes, Postgres): `factory serve --queue --reuse-port` twice on
// the same port, as one machine runs a server per core without a load balancer. The kernel spreads
// new connections between them; both accept runs, a worker drives them, and the seal chain both
// servers extend at once verifies.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { createToken, describeOnCourierPostgres, runIn, spawnIn, waitFor } from '../fixtures/courier-workspace.ts';

/** POST /v1/runs on a connection of its own (no keep-alive: each start may reach either server). */
function startRun(url: string, token: string, input: string): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  const body = JSON.stringify({ agent: 'courier', input });
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: '/v1/runs',
        method: 'POST',
        agent: false,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

describeOnCourierPostgres('two API servers sharing one port (real processes, Postgres)', { prefix: 't_reuseport' }, (courier) => {
  it(
    'both take starts on the one port, every run completes, and the seal chain they extend together verifies',
    { timeout: 300_000 },
    async () => {
      const operator = await createToken(courier.workspace, 'alice@acme.example', ['operator']);
      const first = await courier.serve(['--queue', '--reuse-port']);
      const port = new URL(first.url).port;
      const second = await courier.serve(['--queue', '--reuse-port', '--port', port]);
      expect(second.url).toBe(first.url);
      await courier.worker(['--concurrency', '4']);

      const key = randomBytes(3).toString('hex');
      const replies = await Promise.all(Array.from({ length: 16 }, (_, index) => startRun(first.url, operator, `k-port-${key}-${index}`)));
      for (const reply of replies) {
        expect(reply.status, reply.body).toBe(200);
        expect(JSON.parse(reply.body)).toMatchObject({ status: 'completed' });
      }
      // Each server logs the starts it took (its log is written in the background): both took some
      // (16 connections all to one would be a 1 in 32,768 chance).
      const startsTaken = () =>
        [first, second].map(
          (server) =>
            server
              .stderr()
              .split('\n')
              .filter((line) => line.includes('"http.request"') && line.includes('"method":"POST"')).length,
        );
      await waitFor(() => startsTaken()[0]! + startsTaken()[1]! === 16, 'both servers to log the 16 starts', 10_000);
      expect(startsTaken().every((taken) => taken > 0)).toBe(true);

      const verified = await runIn(courier.workspace, ['runs', 'verify', '--all', '--json']);
      expect(verified.code, verified.stderr).toBe(0);
      expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true });

      // Without Postgres there is nothing to share: refused before anything is opened, naming the flag.
      const alone = spawnIn(courier.workspace, ['serve', '--reuse-port', '--port', '0'], { DATABASE_URL: '' });
      const { code } = await alone.exited;
      expect(code).not.toBe(0);
      expect(alone.stderr()).toMatch(/--reuse-port needs a Postgres store/);
    },
  );
});

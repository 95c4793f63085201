// A real SMTP server for tests (the smtp-server package) on 127.0.0.1: it requires a login,
// keeps every message it accepts, raw, and can be told to refuse recipients with a temporary
// (450) or permanent (550) reply, as a mail server would.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** A message the server accepted. */
export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
}

/** Reads one header of a raw message (unfolded). */
export function headerOf(raw: string, name: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/)[0] ?? '';
  const match = head.replace(/\r?\n[ \t]+/g, ' ').match(new RegExp(`^${name}:\\s*(.*)$`, 'im'));
  return match?.[1]?.trim();
}

/** Starts an SMTP server that accepts `user`/`password`; returns its smtp:// URL and what it received. */
export async function startSmtpPeer(user: string, password: string) {
  const received: ReceivedMail[] = [];
  const refusals = new Map<string, number[]>();
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    closeTimeout: 1000,
    onAuth(auth, _session, callback) {
      if (auth.username === user && auth.password === password) return callback(null, { user });
      const error = Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 });
      callback(error);
    },
    onRcptTo(address, _session, callback) {
      const queue = refusals.get(address.address.toLowerCase());
      const code = queue?.shift();
      if (code)
        return callback(
          Object.assign(new Error(code >= 500 ? 'Mailbox unavailable' : 'Mailbox busy, try again later'), { responseCode: code }),
        );
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((recipient) => recipient.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    url: (login = user, secret = password) => `smtp://${encodeURIComponent(login)}:${encodeURIComponent(secret)}@127.0.0.1:${port}`,
    received,
    /** Refuses the next deliveries to `address` with these reply codes, in order. */
    refuse(address: string, ...codes: number[]) {
      refusals.set(address.toLowerCase(), codes);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

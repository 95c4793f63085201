// Where a command goes: --server / AIFACTORY_URL need a token and act as its principal (an explicit
// --as is refused), a live `factory serve` in the home is found by its 0600 credential, and a
// credential left by a dead server is passed over.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { actingAs, resolveConnection, setServerOption, type ServerConnection } from '../src/connection.ts';
import { localCredentialFile, readLocalCredential, removeLocalCredential, writeLocalCredential } from '@aifactory/workspace/config';

const home = mkdtempSync(path.join(tmpdir(), 'aif-connection-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));
afterEach(() => setServerOption(undefined));

describe('resolveConnection', () => {
  it('sends commands to --server or AIFACTORY_URL with AIFACTORY_TOKEN, and names what is missing', () => {
    expect(resolveConnection({ AIFACTORY_URL: 'http://127.0.0.1:8787/', AIFACTORY_TOKEN: 'aif_x', AIFACTORY_HOME: home })).toEqual({
      kind: 'server',
      url: 'http://127.0.0.1:8787',
      token: 'aif_x',
      via: 'environment',
    });
    setServerOption('http://factory.example:9000');
    expect(resolveConnection({ AIFACTORY_URL: 'http://ignored', AIFACTORY_TOKEN: 'aif_y', AIFACTORY_HOME: home })).toMatchObject({
      url: 'http://factory.example:9000',
      via: 'option',
    });
    expect(() => resolveConnection({ AIFACTORY_HOME: home })).toThrow(/AIFACTORY_TOKEN is not set/);
    setServerOption('ftp://nope');
    expect(() => resolveConnection({ AIFACTORY_TOKEN: 'aif_y', AIFACTORY_HOME: home })).toThrow(
      /--server 'ftp:\/\/nope' is not an http\(s\) URL/,
    );
  });

  it('goes through the home\u2019s live server by its 0600 credential, and passes over a dead one', () => {
    expect(resolveConnection({ AIFACTORY_HOME: home })).toEqual({ kind: 'store' });
    const written = writeLocalCredential(home, { url: 'http://127.0.0.1:8787', token: 'aifl_secret' });
    expect(statSync(localCredentialFile(home)).mode & 0o777).toBe(0o600);
    expect(resolveConnection({ AIFACTORY_HOME: home })).toEqual({
      kind: 'server',
      url: 'http://127.0.0.1:8787',
      token: 'aifl_secret',
      via: 'local',
      pid: process.pid,
    });
    // Postgres takes many processes: no detour through the server.
    expect(resolveConnection({ AIFACTORY_HOME: home, DATABASE_URL: 'postgres://x@127.0.0.1/db' })).toEqual({ kind: 'store' });
    // A credential naming a pid that is gone, or a reused pid (another start time), is ignored.
    writeFileSync(localCredentialFile(home), JSON.stringify({ ...written, pid: 2 ** 22 + 17 }));
    expect(readLocalCredential(home)).toBeUndefined();
    writeFileSync(localCredentialFile(home), JSON.stringify({ ...written, startTime: '1' }));
    expect(readLocalCredential(home)).toBeUndefined();
    writeFileSync(localCredentialFile(home), JSON.stringify(written));
    removeLocalCredential(home, 'another-secret');
    expect(readLocalCredential(home)).toBeDefined();
    removeLocalCredential(home, 'aifl_secret');
    expect(readLocalCredential(home)).toBeUndefined();
  });

  it('trusts --as through the local server only; over the network an explicit --as is refused', () => {
    const local: ServerConnection = { kind: 'server', url: 'http://127.0.0.1:1', token: 't', via: 'local', pid: 1 };
    const remote: ServerConnection = { kind: 'server', url: 'https://factory.example', token: 't', via: 'environment' };
    expect(actingAs(local, 'bob@acme.example', ['ops-lead'], true)).toEqual({ id: 'bob@acme.example', roles: ['ops-lead'] });
    expect(actingAs(remote, 'cli@local', [], false)).toBeUndefined();
    expect(() => actingAs(remote, 'root@acme.example', [], true)).toThrow(
      /--as is not trusted over the network: requests to https:\/\/factory.example act as the principal of AIFACTORY_TOKEN/,
    );
  });
});

// Symmetric keys kept in the data directory (`<data dir>/keys/<name>.key`, 32 random bytes in
// hex, mode 0600): generated on first use, refused when others can read them.
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, SystemError, UserError } from '@aifactory/core';

/** Loads `<dataDir>/keys/<name>.key`, generating it (mode 0600) on first use; `label` names it in errors. */
export async function loadOrCreateKeyFile(dataDir: string, name: string, label: string): Promise<Buffer> {
  const file = path.join(dataDir, 'keys', `${name}.key`);
  try {
    const mode = (await stat(file)).mode & 0o777;
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
      throw new UserError(
        ErrorCode.Forbidden,
        `${label} '${file}' is readable by others (mode ${mode.toString(8)}); run 'chmod 600 ${file}'.`,
      );
    }
    const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'hex');
    if (key.length < 16) throw new UserError(ErrorCode.InputInvalid, `${label} '${file}' is shorter than 16 bytes.`);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    await createFileOnce(file, `${randomBytes(32).toString('hex')}\n`);
  } catch (error) {
    throw new SystemError(ErrorCode.Internal, `Could not write the ${label.toLowerCase()} '${file}': ${(error as Error).message}`, {
      cause: error,
    });
  }
  return loadOrCreateKeyFile(dataDir, name, label);
}

/**
 * Puts `content` at `file` (mode 0600) unless a file is already there, so that processes starting
 * at once on a fresh data directory agree on one key; false when another got there first.
 * The content is written whole to a file of this process's own and then hard-linked into place:
 * `link` is atomic and fails with EEXIST, so no reader ever sees the key half-written (with
 * `writeFile(…, { flag: 'wx' })` the file exists, empty, before its bytes do, and a second process
 * starting at that moment read a key "shorter than 16 bytes").
 */
export async function createFileOnce(file: string, content: string): Promise<boolean> {
  const own = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(own, content, { mode: 0o600, flag: 'wx' });
  try {
    await chmod(own, 0o600);
    await link(own, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(own).catch(() => undefined);
  }
}

// Symmetric keys kept in the data directory (`<data dir>/keys/<name>.key`, 32 random bytes in
// hex, mode 0600): generated on first use, refused when others can read them.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
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
    await writeFile(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(file, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
      throw new SystemError(ErrorCode.Internal, `Could not write the ${label.toLowerCase()} '${file}': ${(error as Error).message}`, {
        cause: error,
      });
  }
  return loadOrCreateKeyFile(dataDir, name, label);
}

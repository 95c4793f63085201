// Finds the files of an ingest source: a folder (walked recursively, hidden entries and
// node_modules skipped) or a single file. Paths are reported relative to the root with forward
// slashes, so citations read the same on every platform.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, UserError } from '@aifactory/core';
import type { MediaType } from './extracted-document.ts';
import { mediaTypeOf, supportedExtensions } from './read-document.ts';

/** A file ingest will read. */
export interface SourceFile {
  absolutePath: string;
  /** Relative to the source root, with forward slashes. */
  relativePath: string;
  mediaType: MediaType;
}

/** What a source holds. */
export interface SourceListing {
  /** Absolute folder paths are relative to. */
  root: string;
  /** True when the source named a folder: documents gone from it are removed from the index. */
  isFolder: boolean;
  files: SourceFile[];
  /** Files of types ingest does not read (relative paths). */
  ignored: string[];
}

/** Lists a folder or single file to ingest. */
export async function listSource(source: string): Promise<SourceListing> {
  const absolute = path.resolve(source);
  let info;
  try {
    info = await stat(absolute);
  } catch {
    throw new UserError(
      ErrorCode.NotFound,
      `Source '${source}' does not exist; give a folder or a file (${supportedExtensions.join(', ')}).`,
    );
  }
  if (info.isFile()) {
    const mediaType = mediaTypeOf(absolute);
    if (!mediaType)
      throw new UserError(
        ErrorCode.InputInvalid,
        `Source '${source}' is not a supported file type; supported: ${supportedExtensions.join(', ')}.`,
      );
    return {
      root: path.dirname(absolute),
      isFolder: false,
      files: [{ absolutePath: absolute, relativePath: path.basename(absolute), mediaType }],
      ignored: [],
    };
  }
  if (!info.isDirectory()) throw new UserError(ErrorCode.InputInvalid, `Source '${source}' is neither a folder nor a file.`);
  const files: SourceFile[] = [];
  const ignored: string[] = [];
  await walk(absolute, absolute, files, ignored);
  files.sort((left, right) => (left.relativePath < right.relativePath ? -1 : left.relativePath > right.relativePath ? 1 : 0));
  ignored.sort();
  return { root: absolute, isFolder: true, files, ignored };
}

async function walk(root: string, folder: string, files: SourceFile[], ignored: string[]): Promise<void> {
  const entries = await readdir(folder, { withFileTypes: true });
  for (const entry of entries) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const absolutePath = path.join(folder, entry.name);
    const relativePath = path.relative(root, absolutePath).split(path.sep).join('/');
    let isDirectory = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      // Follow links to files; links to folders are not followed (they can loop). A broken link
      // is listed, so ingest reports it as unreadable instead of silently passing it over.
      const target = await stat(absolutePath).catch(() => undefined);
      isDirectory = false;
      isFile = target ? target.isFile() : true;
    }
    if (isDirectory) await walk(root, absolutePath, files, ignored);
    else if (isFile) {
      const mediaType = mediaTypeOf(entry.name);
      if (mediaType) files.push({ absolutePath, relativePath, mediaType });
      else ignored.push(relativePath);
    }
  }
}

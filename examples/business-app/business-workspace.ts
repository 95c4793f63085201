// Lays out a throw-away copy of the business app's workspace (the order-desk agent, its script
// and policy), so a run never writes into the repository.
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** This example's folder. */
export const exampleRoot = path.dirname(fileURLToPath(import.meta.url));

/** Paths of a prepared workspace. */
export interface BusinessWorkspace {
  root: string;
  agentsDir: string;
  policiesDir: string;
  dataDir: string;
}

/** Copies workspace/ into a fresh temporary folder. */
export function prepareBusinessWorkspace(root = mkdtempSync(path.join(tmpdir(), 'aifactory-business-'))): BusinessWorkspace {
  cpSync(path.join(exampleRoot, 'workspace'), root, { recursive: true });
  return { root, agentsDir: path.join(root, 'agents'), policiesDir: path.join(root, 'policies'), dataDir: path.join(root, '.factory') };
}

// Lays out a throw-away copy of what the demo needs — the file-clerk agent, its script, its
// policy and the shared folder it works on — so a run never writes into the repository.
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Paths of a prepared demo workspace. */
export interface DemoWorkspace {
  root: string;
  agentsDir: string;
  dataDir: string;
  sharedFolder: string;
}

/** Copies agents/, policies/, evals/judges/, examples/demo/workspace and examples/knowledge-copilot into a fresh temporary folder. */
export function prepareDemoWorkspace(root = mkdtempSync(path.join(tmpdir(), 'aifactory-demo-'))): DemoWorkspace {
  cpSync(path.join(repositoryRoot, 'agents'), path.join(root, 'agents'), { recursive: true });
  cpSync(path.join(repositoryRoot, 'policies'), path.join(root, 'policies'), { recursive: true });
  // The answer judge (agents/answer-judge.yaml) keeps its policy beside the eval suites.
  cpSync(path.join(repositoryRoot, 'evals', 'judges'), path.join(root, 'evals', 'judges'), { recursive: true });
  cpSync(path.join(repositoryRoot, 'examples', 'demo', 'workspace'), path.join(root, 'examples', 'demo', 'workspace'), { recursive: true });
  // The knowledge copilot's policy and documents, for runs of agents/policy-copilot.yaml.
  cpSync(path.join(repositoryRoot, 'examples', 'knowledge-copilot'), path.join(root, 'examples', 'knowledge-copilot'), {
    recursive: true,
    filter: (source) => !source.includes('node_modules'),
  });
  return {
    root,
    agentsDir: path.join(root, 'agents'),
    dataDir: path.join(root, '.factory'),
    sharedFolder: path.join(root, 'examples', 'demo', 'workspace'),
  };
}

// What ran, kept by content hash: agent definitions and prompts (artifacts) and every policy
// version in force (policy_versions), so replay, explain and what-if find exactly what ran. The
// runtime and governed sessions write them here; replay reads them here.
import { and, eq, inArray } from 'drizzle-orm';
import type { PolicySet } from '@aifactory/control';
import type { Store } from '@aifactory/store';
import { artifacts, policyVersions } from '@aifactory/store/schema';

/** A stored policy version: its source and where it was read from. */
export type PolicyVersionRecord = typeof policyVersions.$inferSelect;

/** An agent definition, prompt or script to keep under its content hash. */
export interface ArtifactDraft {
  /** Content hash of `content`. */
  hash: string;
  /** What it is. */
  kind: 'agent' | 'prompt' | 'script';
  /** The agent it belongs to. */
  name: string;
  /** The text itself. */
  content: string;
}

/** Keeps each artifact not kept yet (content-addressed: a stored hash never changes). */
export async function rememberArtifacts(store: Store, drafts: readonly ArtifactDraft[], now: Date): Promise<void> {
  if (drafts.length === 0) return;
  await store.db
    .insert(artifacts)
    .values(drafts.map((draft) => ({ ...draft, firstSeenAt: now })))
    .onConflictDoNothing();
}

/** Keeps the source of every policy in `policySet` not kept yet (what explain and what-if read a decision's policy from). */
export async function rememberPolicies(store: Store, policySet: PolicySet, now: Date): Promise<void> {
  const versions = policySet.policies.map((policy) => ({
    hash: policy.hash,
    name: policy.name,
    version: String(policy.version),
    source: policy.source,
    file: policy.file ?? null,
    firstSeenAt: now,
  }));
  if (versions.length > 0) await store.db.insert(policyVersions).values(versions).onConflictDoNothing();
}

/** Which of `hashes` are kept as artifacts. */
export async function storedArtifactHashes(store: Store, hashes: readonly string[]): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const rows = await store.db
    .select({ hash: artifacts.hash })
    .from(artifacts)
    .where(inArray(artifacts.hash, [...hashes]));
  return new Set(rows.map((row) => row.hash));
}

/** The text kept under `hash` as an artifact of `kind`, or undefined when it is not kept. */
export async function findArtifactContent(store: Store, hash: string, kind: ArtifactDraft['kind']): Promise<string | undefined> {
  const [row] = await store.db
    .select({ content: artifacts.content })
    .from(artifacts)
    .where(and(eq(artifacts.hash, hash), eq(artifacts.kind, kind)))
    .limit(1);
  return row?.content;
}

/** The kept policy versions among `hashes`. */
export async function findPolicyVersions(store: Store, hashes: readonly string[]): Promise<PolicyVersionRecord[]> {
  if (hashes.length === 0) return [];
  return store.db
    .select()
    .from(policyVersions)
    .where(inArray(policyVersions.hash, [...hashes]));
}

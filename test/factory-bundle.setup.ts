// Global setup of every vitest config: builds the `factory` bundle the tests spawn
// (packages/cli/dist/factory.mjs) unless it is newer than every file it was built from, so no test
// meets a stale or missing one.
import { ensureFactoryBundle } from '../packages/cli/scripts/bundle.ts';

export default async function setup(): Promise<void> {
  await ensureFactoryBundle();
}

// @aifactory/execution/internal: not public API. What the workspace's own composition root and
// server wire into the execution plane and no user of it calls: the knowledge port an agent's
// toolbox searches through (workspace) and the gate's notify obligation carried out for a call the
// gateway decided (server). test/package-boundaries.test.ts pins which packages may import it.
export { knowledgeAccessFor } from './toolbox/knowledge-access.ts';
export { notifyObligation } from './governance/notify-obligation.ts';

// Each agent is a LangGraph graph: a tool-calling loop (model -> tools -> model ...) whose every
// action — the model call, each tool call, retrieval and hand-off, the final answer — passes the
// governance gate. A held action parks the run in the `approval` node (LangGraph interrupt); the
// checkpoint is persisted in the store, so any process can resume it after the approval.
//
// The wiring lives here; the state in agent-state.ts, what nodes share in graph-context.ts, and
// one file per node: model-node.ts, tools-node.ts, finish-node.ts, approval-node.ts.
import { END, START, StateGraph } from '@langchain/langgraph';
import { AgentState, type AgentStateValue } from './agent-state.ts';
import { approvalNode } from './approval-node.ts';
import { finishNode } from './finish-node.ts';
import { GraphContext, type AgentGraphDependencies } from './graph-context.ts';
import { modelNode } from './model-node.ts';
import { toolsNode } from './tools-node.ts';

/** Builds and compiles the governed graph of one agent. */
export function createAgentGraph(dependencies: AgentGraphDependencies) {
  const context = new GraphContext(dependencies);
  const afterModel = (state: AgentStateValue) =>
    state.status !== 'running' ? END : state.held ? 'approval' : state.pending.length > 0 ? 'tools' : 'finish';
  const afterTools = (state: AgentStateValue) => (state.status !== 'running' ? END : state.held ? 'approval' : 'model');
  const afterFinish = (state: AgentStateValue) => (state.held ? 'approval' : END);
  const afterApproval = (state: AgentStateValue) => {
    if (state.status !== 'running') return END;
    if (state.approved) return state.approved.node;
    return state.pending.length > 0 ? 'tools' : 'model';
  };

  const graph = new StateGraph(AgentState)
    .addNode('model', (state) => modelNode(context, state))
    .addNode('tools', (state) => toolsNode(context, state))
    .addNode('finish', (state) => finishNode(context, state))
    .addNode('approval', (state) => approvalNode(context, state))
    .addEdge(START, 'model')
    .addConditionalEdges('model', afterModel, ['tools', 'finish', 'approval', END])
    .addConditionalEdges('tools', afterTools, ['model', 'approval', END])
    .addConditionalEdges('finish', afterFinish, ['approval', END])
    .addConditionalEdges('approval', afterApproval, ['model', 'tools', 'finish', END]);
  return graph.compile(dependencies.checkpointer ? { checkpointer: dependencies.checkpointer } : {});
}

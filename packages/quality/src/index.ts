// @aifactory/quality public API: anything exported here is public API.
// The quality line: evaluation suites run as governed runs and checked against the record
// (text, governance outcome, citations, an LLM judge, latency and cost), retrieval metrics, and
// reports as a table, JSON and JUnit XML.
export { EVAL_OUTCOMES, evalSuiteDocumentSchema, loadEvalSuite, parseEvalSuite } from './eval-suite.ts';
export type { CaseExpectation, EvalCase, EvalOutcome, EvalSuite, JudgeExpectation, RetrievalQuery } from './eval-suite.ts';
export { checkExpectations, outcomeOf } from './assertions.ts';
export type { AssertionResult, JudgeAnswer, JudgeVerdict } from './assertions.ts';
export { checkCitations, citesSource, parseCitations } from './citations.ts';
export type { Citation, CitationCheck } from './citations.ts';
export { traceFacts } from './run-observation.ts';
export type { ObservedDecision, ObservedPassage, RunObservation } from './run-observation.ts';
export { parseVerdict, runEvalSuite } from './eval-runner.ts';
export type { CaseResult, EvalReport, EvalTarget, RunEvalOptions } from './eval-runner.ts';
export { evaluateRetrieval } from './retrieval-eval.ts';
export type { RetrievalQueryResult, RetrievalReport, SearchPassages } from './retrieval-eval.ts';
export { renderEvalJunit, renderEvalTable } from './eval-report.ts';
export { countFeedback, FEEDBACK_AGENT, listFeedback, recordFeedback, sentimentOf, validateFeedback } from './feedback.ts';
export type { FeedbackFilter, FeedbackRecord, FeedbackRequest, Sentiment } from './feedback.ts';
export { correctionCase, correctionCaseId, correctionsToSuite, readSuiteIfPresent } from './feedback-export.ts';
export type { CorrectionAssertion, CorrectionExportOptions } from './feedback-export.ts';
export { recordEvalResult } from './eval-record.ts';
export type { EvalSubject } from './eval-record.ts';
export {
  loadPromptDocument,
  parsePromptDocument,
  promptContentHash,
  promptDocumentSchema,
  promptLabelPattern,
  promptNamePattern,
  renderPrompt,
} from './prompts/prompt-document.ts';
export type { PromptDocument } from './prompts/prompt-document.ts';
export {
  completeHeldPromotion,
  EVAL_RECORD_AGENT,
  labelHistory,
  latestEval,
  PROMOTE_ACTION,
  PROMOTION_RESUMER,
  PROMPT_REGISTRY_AGENT,
  promotePrompt,
  promptLabels,
  promptVersion,
  promptVersions,
  publishedPromptNames,
  publishPrompt,
  refusedPromotions,
  resolvePrompt,
  rollbackPrompt,
} from './prompts/prompt-registry.ts';
export type {
  LabelMove,
  PromotionRequest,
  PromotionResult,
  PromptVersion,
  PromptVersionContent,
  RegistryParts,
} from './prompts/prompt-registry.ts';
export { compareEvalReports, renderEvalComparison } from './eval-compare.ts';
export type { CaseComparison, EvalComparison } from './eval-compare.ts';

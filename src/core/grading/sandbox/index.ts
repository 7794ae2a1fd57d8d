/**
 * The grading sandbox, in four parts: compile.ts bundles the learner's TypeScript,
 * contract.ts checks its exports, process.ts runs it in a child process of its own and
 * calls into it, and child.ts is that child's side (bundled apart, see esbuild.js).
 */
export { CompileError, type CompiledBundle, type CompileOptions, type EsbuildApi, LabEsbuildMissingError, compileLearnerCode, formatDiagnostic, labEsbuild } from './compile';
export { type ExportType, type ModuleExports, checkContract } from './contract';
export type { LearnerError, Observation } from './messages';
export {
  type AdapterApi,
  type AdapterFactory,
  type AdapterSandbox,
  type CallFailure,
  type CallResult,
  type HeldTransaction,
  type ProcessEnd,
  Sandbox,
  type SandboxCall,
  type SandboxClient,
  type SandboxOptions,
  SandboxInterruptedError,
  SandboxStartError,
  sandboxClient,
  startSandbox,
} from './process';

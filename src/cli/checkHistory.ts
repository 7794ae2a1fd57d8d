/**
 * `data-labs check-history <file> [--model register|cas-register|kv] [--json]`: the
 * grader's linearizability checker on a history of one's own, in this project's JSON
 * format or Jepsen's plain-text register log. Exit 0: linearizable; 1: not linearizable,
 * or unknown (the search ran out of budget: never taken for linearizable).
 */
import { promises as fs } from 'node:fs';
import { HistoryFormatError, parseHistory } from '../core/grading/historyFormats';
import { type ModelName, type Operation, checkLinearizable } from '../core/grading/linearizability';

export const CHECK_HISTORY_HELP = `data-labs check-history <file> [--model register|cas-register|kv] [--json]

Checks a history of reads, writes and compare-and-sets for linearizability.
  <file>     JSON: [{"process":0,"type":"invoke"|"ok"|"fail"|"info","f":"read"|"write"|"cas","key"?:"k","value"?:...}]
             or Jepsen's plain-text log lines: "<process> :<type> :<f> <value>" (tabs or spaces)
  --model    register (default), cas-register, or kv (a register per key, checked apart)
  --json     print the verdict as JSON

Exit codes: 0 linearizable, 1 not linearizable or undecided, 2 wrong usage.
`;

export const MODELS: readonly ModelName[] = ['register', 'cas-register', 'kv'];

function describeOp(op: Operation): string {
  const value = op.f === 'read' ? `→ ${JSON.stringify(op.output)}` : JSON.stringify(op.input);
  return `process ${op.process} ${op.f}${op.key !== undefined ? ` ${op.key}` : ''} ${value}${op.ret === Infinity ? ' (outcome unknown)' : ''}`;
}

export async function runCheckHistory(file: string, model: ModelName, json: boolean, out: { stdout: (t: string) => void; stderr: (t: string) => void }): Promise<number> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    out.stderr(`data-labs: cannot read ${file}: ${(error as Error).message}\n`);
    return 1;
  }
  let history;
  try {
    history = parseHistory(text, file);
  } catch (error) {
    if (error instanceof HistoryFormatError) {
      out.stderr(`data-labs: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  const result = checkLinearizable(history, model);
  if (json) {
    out.stdout(`${JSON.stringify(result, (_k, v: unknown) => (v === Infinity ? null : v), 2)}\n`);
  } else if (result.verdict === 'linearizable') {
    out.stdout(`linearizable: ${result.operations} operations (${result.steps} search steps, model ${model})\n`);
  } else if (result.verdict === 'unknown') {
    out.stdout(`unknown: ${result.reason} (${result.operations} operations). Not decided is not linearizable.\n`);
  } else {
    const lines = [
      `NOT linearizable${result.key !== undefined ? ` (key ${result.key})` : ''}: ${result.operations} operations, model ${model}.`,
      `The longest order found (${result.linearized.length} operations) ends with:`,
      ...result.linearized.slice(-5).map((op) => `  ${describeOp(op)}`),
      'and none of these can come next:',
      ...result.stuck.map((op) => `  ${describeOp(op)}`),
    ];
    out.stdout(`${lines.join('\n')}\n`);
  }
  return result.verdict === 'linearizable' ? 0 : 1;
}

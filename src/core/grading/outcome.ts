/**
 * The verdicts a checker returns, built the same way by every lab: what the history shows,
 * and for a failure the hint written for it, the events to blame (sorted, each once) and
 * the part of a long history to draw. Pure: checkers may import it.
 */
import type { HistoryFocus, Verdict } from './report';

export function pass(actual: string): Verdict {
  return { status: 'pass', actual };
}

/** The check could not be decided (never a pass): `actual` says why. */
export function undecided(actual: string): Verdict {
  return { status: 'unknown', actual };
}

export interface FailureDetails {
  /** The part of the history the report's timeline shows. */
  readonly focus?: HistoryFocus;
  /** Further parts, each drawn as a timeline of its own. */
  readonly moreFocus?: readonly HistoryFocus[];
}

export function fail(actual: string, hint: string, culprits: readonly number[], details: FailureDetails = {}): Verdict {
  return {
    status: 'fail',
    actual,
    hint,
    culprits: [...new Set(culprits)].sort((a, b) => a - b),
    ...(details.focus !== undefined ? { focus: details.focus } : {}),
    ...(details.moreFocus !== undefined && details.moreFocus.length > 0 ? { moreFocus: details.moreFocus } : {}),
  };
}

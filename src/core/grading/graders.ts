/** Every grader the product has, by id (the `grader` field of a lab's manifest). */
import type { GraderId } from './graderIds';
import type { LabGrader } from './gradeLab';
import { idempotencyKeysGrader } from './labs/idempotencyKeys';
import { quorumGrader } from './labs/quorum';
import { sagaGrader } from './labs/saga';

export const GRADERS: Readonly<Record<GraderId, LabGrader>> = {
  'idempotency-keys': idempotencyKeysGrader,
  saga: sagaGrader,
  quorum: quorumGrader,
};

/** Faults a grader injects into a lab's services (injector.ts), and the journal that undoes them after a crash (journal.ts). */
export { type AppliedFault, type ContainerFaultKind, FaultInjector, type FaultInjectorOptions, type ProxyFault } from './injector';
export { type FaultJournal, JOURNAL_VERSION, type JournalFault, type JournalParse, type RecoveredJournal, type RecoveryReport, type UndoOutcome, parseFaultJournal, recoverAbandonedFaults, undoContainerFault } from './journal';

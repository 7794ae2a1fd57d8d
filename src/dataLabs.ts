/**
 * The composition root: creates every service, view, controller and command once, hands
 * each only what it uses, and disposes all of them through the extension context. Nothing
 * imports this file but extension.ts: the parts know each other through the dependencies
 * they are given and the events they subscribe to, never through an object that holds
 * everything.
 */
import * as vscode from 'vscode';
import { afterPassingCommands } from './commands/afterPassing';
import { gradeElsewhereCommands } from './commands/gradeElsewhere';
import type { CommandHandlers } from './commands/commandHandlers';
import { gradeLabCommands } from './commands/gradeLab';
import { labFolderCommands } from './commands/labFolderCommands';
import { openConceptCommands } from './commands/openConcept';
import { openLabCommands } from './commands/openLab';
import { progressCommands } from './commands/progressCommands';
import { resetLabCommands } from './commands/resetLab';
import { servicesCommands } from './commands/servicesCommands';
import { showLabHintsCommands } from './commands/showLabHints';
import type { GradeReport } from './core/grading/report';
import { LabGrading } from './grading/labGrading';
import { GradeReportPanel } from './grading/reportPanel';
import { LabCatalog } from './labs/labCatalog';
import { LabSteps } from './labs/labSteps';
import { LabOpener, ensureDependencies } from './labs/labWorkspace';
import { OpenLabs } from './labs/openLabs';
import { LearnerProgress } from './learnerProgress';
import { LabServicesManager } from './services/labServicesManager';
import { Settings } from './settings';
import { LabTestController } from './testing/labTestController';
import { ContainersView } from './views/containersView';
import { CurriculumTree } from './views/curriculumTree';

/**
 * What activate() returns: the live objects, for the extension-host tests (and any
 * extension that builds on this one). Nothing here is a copy or a stand-in; the tests
 * observe the extension through these objects' public state and events.
 */
export interface DataLabsApi {
  /** Resolves once progress, the lab catalog and the open lab folders are loaded. */
  readonly ready: Promise<void>;
  readonly settings: Settings;
  readonly catalog: LabCatalog;
  readonly progress: LearnerProgress;
  readonly openLabs: OpenLabs;
  /** The labs' databases (Docker or embedded). */
  readonly services: LabServicesManager;
  readonly grading: LabGrading;
  readonly tree: CurriculumTree;
  readonly tests: LabTestController;
  /** Each open lab's TODOs as steps, and the next-step offer. */
  readonly steps: LabSteps;
  readonly containers: ContainersView;
  /** Opens a report panel for a report, with handlers that do nothing (for the extension-host tests). */
  showGradeReport(labTitle: string, report: GradeReport): GradeReportPanel;
  /** Marks a lab's open report as superseded by a grading under way, as a new grading does (for the extension-host tests). */
  markGrading(labId: string, text: string): GradeReportPanel | undefined;
}

/** How long after start-up the sweep waits when no open lab needs databases. */
const SWEEP_DELAY_MS = 3_000;

/**
 * Keeps each open lab's databases running and stops those of labs whose folder left
 * the workspace. Runs at start-up (after the sweep) and whenever the open labs change.
 */
async function syncLabServices(openLabs: OpenLabs, services: LabServicesManager, settings: Settings): Promise<void> {
  const open = openLabs.current();
  for (const state of services.allStates()) {
    if ((state.phase === 'ready' || state.phase === 'starting') && !open.some((l) => l.labId === state.labId)) {
      await services.stop(state.labId);
    }
  }
  if (!settings.startDatabasesOnOpen) {
    return;
  }
  await Promise.all(
    open
      // Not started in this window yet, or held back until the workspace was trusted.
      .filter((l) => l.lab && l.lab.manifest.services.length > 0 && [undefined, 'untrusted'].includes(services.state(l.labId)?.phase))
      .map((l) => services.start(l.lab!, l.folder.uri.fsPath)),
  );
}

/** Resolves once the view is visible (at once if it is), or the open labs change (a lab may have come). */
function whenWanted(view: vscode.TreeView<unknown>, openLabs: OpenLabs, subscriptions: vscode.Disposable[]): Promise<void> {
  if (view.visible) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const listeners = [view.onDidChangeVisibility((e) => e.visible && done()), openLabs.onDidChange(() => done())];
    function done(): void {
      for (const listener of listeners) listener.dispose();
      resolve();
    }
    subscriptions.push(...listeners);
  });
}

const FIRST_START_KEY = 'dataLabs.firstStartShown';
const WALKTHROUGH = 'ddlabs.distributed-data-labs#dataLabs.gettingStarted';
/** Steps of VS Code's "Increase Current View Size" (60 px each, on the focused side bar) taken on the first start. */
const SIDEBAR_WIDENINGS = 2;

/**
 * The very first start (of this profile): the Data Labs side bar and its walkthrough come to
 * the front, instead of the editor's own welcome page, so a newcomer sees where to begin.
 * A window opened on a lab already shows the lab; it only counts the first start as seen.
 */
async function firstStart(state: vscode.Memento, settings: Settings, labOpen: boolean): Promise<void> {
  if (state.get<boolean>(FIRST_START_KEY) === true) {
    return;
  }
  await state.update(FIRST_START_KEY, true);
  if (labOpen || !settings.showWalkthroughOnFirstStart) {
    return;
  }
  await vscode.commands.executeCommand('workbench.view.extension.dataLabs');
  // The side bar has the focus now: make it wide enough for the labs' names and facts
  // (VS Code's default is narrow). Only this once; the learner's own width is kept after.
  for (let i = 0; i < SIDEBAR_WIDENINGS; i++) {
    await vscode.commands.executeCommand('workbench.action.increaseViewSize').then(undefined, () => undefined);
  }
  await vscode.commands.executeCommand('workbench.action.openWalkthrough', WALKTHROUGH, false);
}

export class DataLabs {
  /**
   * Registers everything without waiting for any I/O, so activation stays in the
   * low milliseconds; loading progress and the catalog continues in the background
   * (`ready`), and views and commands wait for it.
   */
  static start(extension: vscode.ExtensionContext, log: vscode.LogOutputChannel): DataLabsApi {
    const subscriptions = extension.subscriptions;
    const productVersion = (extension.extension.packageJSON as { version: string }).version;

    // The core services: no view or controller among them, and none knows of one.
    const settings = new Settings();
    const catalog = new LabCatalog(extension.extensionPath, log);
    const progress = new LearnerProgress(extension.globalStorageUri.fsPath, log);
    const openLabs = new OpenLabs(catalog, log);
    const services = new LabServicesManager({ catalog, settings, state: extension.globalState, extensionPath: extension.extensionPath, log });
    const grading = new LabGrading({
      services,
      progress,
      extensionUri: extension.extensionUri,
      extensionPath: extension.extensionPath,
      storageDir: extension.globalStorageUri.fsPath,
      log,
      state: extension.globalState,
    });
    const opener = new LabOpener({ settings, catalog, progress, services, state: extension.globalState, productVersion, log });
    const ready = Promise.all([progress.ready, catalog.ready, openLabs.ready]).then(() => undefined);
    subscriptions.push(settings, catalog, progress, openLabs, services, grading);

    // The views, each subscribed to the services it shows.
    const tree = new CurriculumTree(progress, catalog, log);
    const welcome = vscode.window.createTreeView('dataLabs.welcome', { treeDataProvider: { getChildren: () => [], getTreeItem: (x: vscode.TreeItem) => x } });
    const tests = new LabTestController({ openLabs, grading, services, log });
    const containers = new ContainersView(openLabs, services, settings);
    const steps = new LabSteps({ tests, openLabs, state: extension.globalState, log });
    tree.showSteps(steps);
    tree.showScores(grading);
    subscriptions.push(tree, welcome, tests, containers, steps);

    // The commands, each family given what it uses.
    const commands: CommandHandlers = {
      ...openLabCommands({ catalog, opener, log }),
      ...resetLabCommands({ catalog, settings, productVersion, log }),
      ...openConceptCommands({ extensionUri: extension.extensionUri }),
      ...labFolderCommands({ openLabs, catalog, log }),
      ...showLabHintsCommands({ catalog, openLabs }),
      ...gradeLabCommands({ openLabs, grading }),
      ...progressCommands({ progress, log }),
      ...servicesCommands({ services, openLabs, catalog, containers, log }),
      ...afterPassingCommands({ openLabs, progress, steps }),
      ...gradeElsewhereCommands({ openLabs, catalog, progress, settings, extensionPath: extension.extensionPath, log }),
      'dataLabs.refresh': () => catalog.reload(),
      'dataLabs.showLog': () => log.show(),
    };
    for (const [name, run] of Object.entries(commands)) {
      subscriptions.push(
        vscode.commands.registerCommand(name, async (...args: unknown[]) => {
          await ready;
          return run(...args);
        }),
      );
    }

    void ready.then(
      async () => {
        await vscode.commands.executeCommand('setContext', 'dataLabs.ready', true);
        // From now on a lab folder coming or going starts or stops its databases; the ones open
        // at start-up are started below, after the sweep.
        subscriptions.push(openLabs.onDidChange(() => void syncLabServices(openLabs, services, settings).catch((error: unknown) => log.error('Syncing lab databases failed', error))));
        // In Restricted Mode nothing was started or installed; once the learner trusts the workspace, it is.
        subscriptions.push(
          vscode.workspace.onDidGrantWorkspaceTrust(() => {
            log.info('The workspace is trusted now: starting the open labs\' databases and installing their dependencies');
            void syncLabServices(openLabs, services, settings).catch((error: unknown) => log.error('Starting the open labs\' databases failed', error));
            if (settings.installDependenciesOnOpen) {
              for (const open of openLabs.current()) {
                void ensureDependencies(log, open.folder.uri.fsPath).catch((error: unknown) => log.error(`Installing the dependencies of ${open.labId} failed`, error));
              }
            }
          }),
        );
        const labs = openLabs.current();
        await firstStart(extension.globalState, settings, labs.length > 0).catch((error: unknown) => log.error('Showing the walkthrough failed', error));
        await Promise.all([
          opener.resumePending().catch((error: unknown) => log.error('Finishing the lab open failed', error)),
          // Containers a crashed editor left are swept before this window starts its own.
          // The sweep loads the Docker client (a megabyte of code); with no lab open that
          // needs databases, it waits a moment so it does not hold up the window's start.
          // The extension also activates in every window once it has started (to repair an
          // open that code-server interrupted; see LabOpener.resumePending); Docker is only
          // touched in a window with a lab open, or once the Data Labs side bar is shown.
          (async () => {
            if (labs.length === 0) {
              await whenWanted(tree.view, openLabs, subscriptions);
            }
            await new Promise((resolve) => setTimeout(resolve, labs.some((l) => (l.lab?.manifest.services.length ?? 0) > 0) ? 0 : SWEEP_DELAY_MS));
            await services.sweep();
            await syncLabServices(openLabs, services, settings);
          })().catch((error: unknown) => log.error('Starting the open labs\' databases failed', error)),
        ]);
      },
      (error: unknown) => {
        log.error('Loading progress or the lab catalog failed', error);
        void vscode.window.showErrorMessage(vscode.l10n.t('Distributed Data Labs could not load its data: {0}', String(error)));
      },
    );
    const noop = (): void => undefined;
    return {
      ready,
      settings,
      catalog,
      progress,
      openLabs,
      services,
      grading,
      tree,
      tests,
      steps,
      containers,
      markGrading: (labId, text) => GradeReportPanel.markGrading(labId, text),
      showGradeReport: (labTitle, report) => GradeReportPanel.show(extension.extensionUri, labTitle, report, { replay: noop, openFile: noop, gradeAgain: noop, gradeWithDocker: noop, gradeInCi: noop }),
    };
  }
}

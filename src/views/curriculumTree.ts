/**
 * The Curriculum view: sections, each with its concepts, its labs and its part of
 * the Progress Checklist as native checkboxes. Counts per section and overall.
 */
import * as vscode from 'vscode';
import { type ChecklistItem, type Concept, type Count, SECTIONS, type Section, countProgress } from '../core/curriculum/curriculum';
import type { BrokenLab, Lab } from '../core/labs/catalog';
import type { LearnerProgress } from '../learnerProgress';
import type { LabCatalog } from '../labs/labCatalog';

export type CurriculumNode =
  | { readonly kind: 'section'; readonly section: Section }
  | { readonly kind: 'group'; readonly section: Section; readonly group: 'concepts' | 'labs' | 'checklist' }
  | { readonly kind: 'concept'; readonly concept: Concept }
  | { readonly kind: 'lab'; readonly lab: Lab }
  | { readonly kind: 'brokenLab'; readonly lab: BrokenLab }
  | { readonly kind: 'item'; readonly item: ChecklistItem };

export class CurriculumTree implements vscode.TreeDataProvider<CurriculumNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<CurriculumNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly view: vscode.TreeView<CurriculumNode>;
  private readonly disposables: vscode.Disposable[] = [];
  /** Nodes are cached by key so that refreshes keep their identity and expansion state. */
  private readonly nodes = new Map<string, CurriculumNode>();

  /** Resolves once progress and the catalog are loaded; the view shows its progress bar until then. */
  private readonly ready: Promise<void>;

  constructor(
    private readonly progress: LearnerProgress,
    private readonly catalog: LabCatalog,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.ready = Promise.all([progress.ready, catalog.ready]).then(() => undefined);
    this.view = vscode.window.createTreeView('dataLabs.curriculum', {
      treeDataProvider: this,
      showCollapseAll: true,
      manageCheckboxStateManually: true,
    });
    this.disposables.push(
      this.view,
      this.changed,
      this.view.onDidChangeCheckboxState((event) => this.onCheckboxes(event)),
    );
    // The first render waits for `ready` (see getChildren), so only later changes need a
    // refresh. A needless refresh is not free: it replaces the rows' command handles, and
    // a click landing in that moment fails with "command not found".
    void this.ready.then(() => {
      this.updateCounts();
      this.disposables.push(
        progress.store.onDidChange(() => this.refresh()),
        catalog.onDidChange(() => this.refresh()),
      );
    });
  }

  refresh(): void {
    this.updateCounts();
    this.changed.fire(undefined);
  }

  /** Where each open lab stands in its TODOs ("TODO 3 of 6" on its row), from LabSteps. */
  private stepOf: (labId: string) => { readonly current: number | undefined; readonly total: number } | undefined = () => undefined;

  /** The latest full grading's score of each graded lab ("checks 10/11" on its row), from LabGrading. */
  private scoreOf: (labId: string) => { readonly passed: number; readonly unknown: number; readonly total: number } | undefined = () => undefined;

  showScores(grading: { scoreOf(labId: string): { readonly passed: number; readonly unknown: number; readonly total: number } | undefined; readonly onDidFinish: vscode.Event<unknown> }): void {
    this.scoreOf = (labId) => grading.scoreOf(labId);
    this.disposables.push(grading.onDidFinish(() => this.changed.fire(undefined)));
  }

  showSteps(steps: { stepOf(labId: string): { readonly current: number | undefined; readonly total: number } | undefined; readonly onDidChange: vscode.Event<void> }): void {
    this.stepOf = (labId) => steps.stepOf(labId);
    this.disposables.push(steps.onDidChange(() => this.changed.fire(undefined)));
  }

  /** The overall count (description, badge) and the context key of the welcome view. */
  private updateCounts(): void {
    const { overall } = countProgress((id) => this.progress.store.isDone(id));
    this.view.description = vscode.l10n.t('{0}/{1} done', overall.done, overall.total);
    // The description is hidden when this is the container's only view; the badge on the
    // activity bar icon keeps the overall count in sight.
    this.view.badge = overall.done > 0
      ? { value: overall.done, tooltip: vscode.l10n.t('{0}/{1} checklist items done', overall.done, overall.total) }
      : undefined;
    void vscode.commands.executeCommand('setContext', 'dataLabs.started', this.progress.store.hasStarted());
  }

  private async onCheckboxes(event: vscode.TreeCheckboxChangeEvent<CurriculumNode>): Promise<void> {
    const ticked: string[] = [];
    const unticked: string[] = [];
    for (const [node, state] of event.items) {
      if (node.kind === 'item') {
        (state === vscode.TreeItemCheckboxState.Checked ? ticked : unticked).push(node.item.id);
      }
    }
    try {
      if (ticked.length > 0) {
        await this.progress.store.setTicks(ticked, true, 'learner');
      }
      if (unticked.length > 0) {
        await this.progress.store.setTicks(unticked, false, 'learner');
      }
      this.log.info(`Checklist: ticked [${ticked.join(', ')}] unticked [${unticked.join(', ')}]`);
    } catch (error) {
      this.log.error('Could not save progress', error);
      void vscode.window.showErrorMessage(
        vscode.l10n.t('Your checklist change could not be saved: {0}. It is kept in this window; try again or export your progress.', String(error)),
      );
    }
  }

  private node<T extends CurriculumNode>(key: string, make: () => T): T {
    let node = this.nodes.get(key);
    if (!node) {
      node = make();
      this.nodes.set(key, node);
    }
    return node as T;
  }

  getChildren(parent?: CurriculumNode): CurriculumNode[] | Promise<CurriculumNode[]> {
    if (!parent) {
      // Until progress is loaded the counts would be wrong; the view shows its progress bar meanwhile.
      return this.ready.then(() => SECTIONS.map((section) => this.node(`section:${section.id}`, () => ({ kind: 'section' as const, section }))));
    }
    switch (parent.kind) {
      case 'section': {
        const groups: Array<'concepts' | 'labs' | 'checklist'> = ['concepts', 'labs', 'checklist'];
        return groups
          .filter((group) => group !== 'labs' || this.labsOf(parent.section).length > 0)
          .map((group) => this.node(`group:${parent.section.id}:${group}`, () => ({ kind: 'group' as const, section: parent.section, group })));
      }
      case 'group':
        if (parent.group === 'concepts') {
          return parent.section.concepts.map((concept) => this.node(`concept:${concept.id}`, () => ({ kind: 'concept' as const, concept })));
        }
        if (parent.group === 'checklist') {
          return parent.section.checklist.map((item) => this.node(`item:${item.id}`, () => ({ kind: 'item' as const, item })));
        }
        return this.labsOf(parent.section);
      default:
        return [];
    }
  }

  /** Labs of a section, plus broken labs (shown under the section their folder is meant for, else the first). */
  private labsOf(section: Section): CurriculumNode[] {
    const result: CurriculumNode[] = [];
    for (const entry of this.catalog.all) {
      if (entry.ok && entry.manifest.section === section.id) {
        // Lab nodes are rebuilt each time: the manifest may have been reloaded.
        result.push({ kind: 'lab', lab: entry });
      } else if (!entry.ok && section.id === SECTIONS[0]?.id) {
        result.push({ kind: 'brokenLab', lab: entry });
      }
    }
    return result;
  }

  getParent(node: CurriculumNode): CurriculumNode | undefined {
    switch (node.kind) {
      case 'group':
        return this.nodes.get(`section:${node.section.id}`);
      case 'concept': {
        const section = SECTIONS.find((s) => s.concepts.includes(node.concept));
        return section && this.nodes.get(`group:${section.id}:concepts`);
      }
      case 'item':
        return this.nodes.get(`group:${node.item.section}:checklist`);
      case 'lab':
        return this.nodes.get(`group:${node.lab.manifest.section}:labs`);
      default:
        return undefined;
    }
  }

  /** Ticked and total items of one section. */
  private sectionCount(section: Section): Count {
    return countProgress((id) => this.progress.store.isDone(id)).perSection.get(section.id) ?? { done: 0, total: section.checklist.length };
  }

  getTreeItem(node: CurriculumNode): vscode.TreeItem {
    switch (node.kind) {
      case 'section': {
        const c = this.sectionCount(node.section);
        const item = new vscode.TreeItem(node.section.title, vscode.TreeItemCollapsibleState.Expanded);
        item.id = `section:${node.section.id}`;
        item.description = `${c.done}/${c.total}`;
        item.iconPath = new vscode.ThemeIcon(c.done === c.total ? 'pass-filled' : 'circle-large-outline');
        item.contextValue = 'section';
        return item;
      }
      case 'group': {
        const titles = { concepts: vscode.l10n.t('Concepts'), labs: vscode.l10n.t('Labs'), checklist: vscode.l10n.t('Checklist') };
        const expanded = node.group === 'concepts' ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.Expanded;
        const item = new vscode.TreeItem(titles[node.group], expanded);
        item.id = `group:${node.section.id}:${node.group}`;
        if (node.group === 'checklist') {
          const c = this.sectionCount(node.section);
          item.description = `${c.done}/${c.total}`;
        }
        item.iconPath = new vscode.ThemeIcon({ concepts: 'book', labs: 'beaker', checklist: 'checklist' }[node.group]);
        return item;
      }
      case 'concept': {
        const item = new vscode.TreeItem(node.concept.title, vscode.TreeItemCollapsibleState.None);
        item.id = `concept:${node.concept.id}`;
        item.description = node.concept.blurb;
        item.tooltip = `${node.concept.title}: ${node.concept.blurb}`;
        item.iconPath = new vscode.ThemeIcon('note');
        item.contextValue = 'concept';
        item.command = { command: 'dataLabs.openConcept', title: vscode.l10n.t('Open Concept Page'), arguments: [node.concept.id] };
        return item;
      }
      case 'lab': {
        const record = this.progress.store.labRecord(node.lab.id);
        const item = new vscode.TreeItem(node.lab.manifest.title, vscode.TreeItemCollapsibleState.None);
        item.id = `lab:${node.lab.id}`;
        const facts = labFacts(node.lab);
        const step = this.stepOf(node.lab.id);
        const score = record?.openedAt ? this.scoreOf(node.lab.id) : undefined;
        item.description = record?.passedAt
          ? vscode.l10n.t('passed')
          : score !== undefined
            ? // Per-check progress once the lab has been graded: how many hidden checks the latest full grading passed.
              `${vscode.l10n.t('checks {0}/{1}', score.passed, score.total)}${score.unknown > 0 ? ` · ${vscode.l10n.t('{0} undecided', score.unknown)}` : ''}`
            : step !== undefined
            ? step.current !== undefined
              ? vscode.l10n.t('TODO {0} of {1}', step.current, step.total)
              : vscode.l10n.t('TODOs done')
            : record?.openedAt
              ? vscode.l10n.t('opened')
              : facts.short;
        const md = new vscode.MarkdownString(`**${node.lab.manifest.title}**\n\n${node.lab.manifest.summary}`);
        md.appendMarkdown(`\n\n${facts.long}`);
        item.tooltip = md;
        item.iconPath = new vscode.ThemeIcon(record?.passedAt ? 'pass' : 'beaker');
        // `.graded`: the lab has hidden checks, so an opened one gets the Grade button.
        item.contextValue = `${record?.openedAt ? 'lab.opened' : 'lab'}${node.lab.manifest.grader !== undefined ? '.graded' : ''}`;
        item.command = { command: 'dataLabs.openLab', title: vscode.l10n.t('Open Lab'), arguments: [node.lab.id] };
        return item;
      }
      case 'brokenLab': {
        const item = new vscode.TreeItem(vscode.l10n.t('{0} (manifest error)', node.lab.id), vscode.TreeItemCollapsibleState.None);
        item.id = `brokenLab:${node.lab.id}`;
        const first = node.lab.problems[0];
        if (first) {
          item.description = `${first.field || 'lab.json'}: ${first.message}`;
        }
        item.tooltip = node.lab.problems.map((p) => `${p.file}: ${p.field ? `"${p.field}" ` : ''}${p.message}`).join('\n');
        item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('list.errorForeground'));
        item.contextValue = 'lab.broken';
        item.command = { command: 'dataLabs.showLabProblems', title: vscode.l10n.t('Show Lab Manifest Problems'), arguments: [node.lab.id] };
        return item;
      }
      case 'item': {
        const tick = this.progress.store.tickOf(node.item.id);
        const item = new vscode.TreeItem(node.item.label, vscode.TreeItemCollapsibleState.None);
        item.id = `item:${node.item.id}`;
        item.contextValue = tick ? 'item.done' : 'item';
        let tooltip: string;
        if (tick) {
          const when = new Date(tick.at).toLocaleDateString();
          tooltip = tick.by === 'learner'
            ? vscode.l10n.t('Ticked by you on {0}', when)
            : vscode.l10n.t('Ticked on {0} when lab "{1}" passed', when, tick.by.replace(/^lab:/, ''));
        } else {
          tooltip = vscode.l10n.t('Tick this when you have learned it.');
        }
        item.tooltip = tooltip;
        // A screen reader hears the item itself and its state, not the hint every item shares.
        const spoken = tick ? vscode.l10n.t('{0}: done. {1}', node.item.label, tooltip) : vscode.l10n.t('{0}: not done yet. {1}', node.item.label, tooltip);
        item.checkboxState = {
          state: tick ? vscode.TreeItemCheckboxState.Checked : vscode.TreeItemCheckboxState.Unchecked,
          tooltip,
          accessibilityInformation: { label: spoken, role: 'checkbox' },
        };
        item.accessibilityInformation = { label: spoken };
        return item;
      }
    }
  }

  dispose(): void {
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}

/**
 * What a lab row says before the lab is opened: graded or not, what it needs, how long it
 * takes (`graded · Docker · 60 min`), and the same in sentences for its tooltip.
 */
export function labFacts(lab: Lab): { short: string; long: string } {
  const m = lab.manifest;
  const graded = m.grader !== undefined;
  const needsDocker = m.services.length > 0 && !m.services.every((s) => s.embedded);
  const short = [
    graded ? vscode.l10n.t('graded') : vscode.l10n.t('tests'),
    ...(m.services.length === 0 ? [] : [needsDocker ? vscode.l10n.t('Docker') : vscode.l10n.t('Docker or embedded')]),
    ...(m.estimatedMinutes ? [vscode.l10n.t('{0} min', m.estimatedMinutes)] : []),
  ].join(' · ');
  const long = [
    graded
      ? vscode.l10n.t('Visible tests while you work, then hidden checks that grade it under faults ({0}).', m.grader?.checks.length ?? 0)
      : vscode.l10n.t('Visible tests check it; there are no hidden checks.'),
    m.services.length === 0
      ? vscode.l10n.t('Needs no database.')
      : needsDocker
        ? vscode.l10n.t('Needs Docker: {0}.', m.services.map((s) => `${s.service}${s.count > 1 ? ` ×${s.count}` : ''}`).join(', '))
        : vscode.l10n.t('Runs on Docker, or without it on the embedded PostgreSQL.'),
    ...(m.estimatedMinutes ? [vscode.l10n.t('About {0} minutes.', m.estimatedMinutes)] : []),
    ...((): string[] => {
      const dockerOnly = (m.grader?.checks ?? []).filter((c) => c.needsDocker).map((c) => `"${c.title}"`);
      return dockerOnly.length === 0 || needsDocker
        ? []
        : [vscode.l10n.t('Without Docker, {0} cannot be decided: install Docker to finish the lab (it says "unknown", never a pass).', dockerOnly.join(', '))];
    })(),
  ].join(' ');
  return { short, long };
}

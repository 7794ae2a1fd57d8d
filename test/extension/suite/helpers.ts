// Shared by the extension-host tests. Everything here reaches the LIVE extension
// through the API its activate() returns; only types and pure data come from src/
// (importing src/ code would make a second, unconnected copy of it in the bundle).
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import type { DataLabsApi } from '../../../src/dataLabs';
import type { CurriculumNode } from '../../../src/views/curriculumTree';

export const EXTENSION_ID = 'ddlabs.distributed-data-labs';
export const CATEGORY = 'Distributed Data Labs';
export const LAB_ID = 'relational-vs-document';
export const LAB_TITLE = 'Relational vs document modelling';

export function extension(): vscode.Extension<DataLabsApi> {
  const found = vscode.extensions.getExtension<DataLabsApi>(EXTENSION_ID);
  if (!found) throw new Error(`extension ${EXTENSION_ID} is not loaded`);
  return found;
}

/** Activates the extension (once) and waits until its progress and catalog are loaded. */
export async function activateApi(): Promise<DataLabsApi> {
  const api = await extension().activate();
  await api.ready;
  return api;
}

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it returns something other than undefined or false (the
 * workbench and the extension apply some changes asynchronously). `describe` says,
 * on a timeout, what was seen last.
 */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  { timeoutMs = 10_000, intervalMs = 50, describe }: { timeoutMs?: number; intervalMs?: number; describe?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describe ? ` (last seen: ${describe()})` : ''}`);
    }
    await delay(intervalMs);
  }
}

/**
 * Resolves with what `event` fires next (the first firing that `accept` accepts, when
 * given), or rejects after `timeoutMs`. Subscribe before acting.
 */
export function nextEvent<T>(event: vscode.Event<T>, what: string, timeoutMs: number, accept: (value: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      subscription.dispose();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const subscription = event((value) => {
      if (!accept(value)) return;
      clearTimeout(timer);
      subscription.dispose();
      resolve(value);
    });
  });
}

// ─── the Curriculum tree ──────────────────────────────────────────────────────

export async function children(api: DataLabsApi, parent?: CurriculumNode): Promise<CurriculumNode[]> {
  return Promise.resolve(api.tree.getChildren(parent));
}

export function labelOf(item: vscode.TreeItem): string {
  const label = item.label;
  return typeof label === 'string' ? label : (label?.label ?? '');
}

export async function sectionNodes(api: DataLabsApi): Promise<Array<Extract<CurriculumNode, { kind: 'section' }>>> {
  const roots = await children(api);
  return roots.map((node) => {
    if (node.kind !== 'section') throw new Error(`a root node is a ${node.kind}, not a section`);
    return node;
  });
}

/** The group node `group` of section `sectionId`, or undefined when the section has none. */
export async function groupNode(
  api: DataLabsApi,
  sectionId: string,
  group: 'concepts' | 'labs' | 'checklist',
): Promise<CurriculumNode | undefined> {
  const section = (await sectionNodes(api)).find((s) => s.section.id === sectionId);
  if (!section) throw new Error(`no section ${sectionId}`);
  return (await children(api, section)).find((n) => n.kind === 'group' && n.group === group);
}

/** The checklist item node for `itemId`, found by walking the tree as the view does. */
export async function checklistNode(api: DataLabsApi, itemId: string): Promise<CurriculumNode> {
  for (const section of await sectionNodes(api)) {
    const group = (await children(api, section)).find((n) => n.kind === 'group' && n.group === 'checklist');
    const found = group && (await children(api, group)).find((n) => n.kind === 'item' && n.item.id === itemId);
    if (found) return found;
  }
  throw new Error(`no checklist item ${itemId} in the tree`);
}

export async function checkboxOf(api: DataLabsApi, itemId: string): Promise<vscode.TreeItemCheckboxState | undefined> {
  const item = api.tree.getTreeItem(await checklistNode(api, itemId));
  const state = item.checkboxState;
  return typeof state === 'object' ? state.state : state;
}

export async function sectionDescription(api: DataLabsApi, sectionId: string): Promise<string | undefined> {
  const section = (await sectionNodes(api)).find((s) => s.section.id === sectionId);
  if (!section) throw new Error(`no section ${sectionId}`);
  const description = api.tree.getTreeItem(section).description;
  return typeof description === 'string' ? description : undefined;
}

// ─── progress ─────────────────────────────────────────────────────────────────

/** Unticks everything and forgets opened labs, through the command (as confirmed). */
export async function resetProgress(api: DataLabsApi): Promise<void> {
  await vscode.commands.executeCommand('dataLabs.resetProgress', true);
  await waitFor(() => !api.progress.store.hasStarted(), 'progress to be reset');
}

/** progress.json as it is on disk now, or undefined if it does not exist. */
export function progressOnDisk(api: DataLabsApi): { items: Record<string, { at: string; by: string }>; labs: Record<string, unknown> } | undefined {
  try {
    return JSON.parse(fs.readFileSync(api.progress.store.file, 'utf8')) as ReturnType<typeof progressOnDisk>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

// ─── editors ──────────────────────────────────────────────────────────────────

export function allTabs(): vscode.Tab[] {
  return vscode.window.tabGroups.all.flatMap((group) => group.tabs);
}

export function describeTabs(): string {
  return allTabs()
    .map((tab) => {
      const input = tab.input;
      const kind = input instanceof vscode.TabInputText ? `text ${input.uri.fsPath}` : input instanceof vscode.TabInputWebview ? `webview ${input.viewType}` : 'other';
      return `"${tab.label}" (${kind})`;
    })
    .join(', ') || 'no tabs';
}

/** A Markdown preview tab (a webview) whose label names `fileName`. */
export function previewTab(fileName: string): vscode.Tab | undefined {
  return allTabs().find((tab) => tab.input instanceof vscode.TabInputWebview && /markdown\.preview/.test(tab.input.viewType) && tab.label.includes(fileName));
}

export async function closeAllEditors(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  await waitFor(() => allTabs().length === 0, 'every editor to close', { describe: describeTabs });
}

/** Resolves with `promise`, or rejects after `ms` saying what did not finish. */
export async function within<T>(promise: Thenable<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve(promise),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

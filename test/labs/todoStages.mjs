// A lab's learner folder at each stage of the work: with TODO(1) to TODO(k) done and the
// others not yet, made from the lab's starter and its solution. Each function (or method)
// whose starter body throws `TODO(n): …` is a piece of TODO(n); stage k is the solution with
// the body of every piece of a TODO after k put back as the starter has it. check-labs.mjs
// runs the visible tests at every stage: a test named `TODO(j) …` must pass once TODO(1)
// to TODO(j) are done, whatever the TODOs after j (a learner works through them in order).
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const THROWN_TODO = /^\s*throw new Error\(\s*['"`]TODO\((\d+)\)/m;

/** Every function-like node with a body, by a name stable between starter and solution (`createCoordinator>put`). */
function bodies(file, text) {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found = new Map();
  const visit = (node, owner) => {
    let name;
    if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isGetAccessor(node)) && node.name !== undefined) {
      name = node.name.getText(source);
    } else if ((ts.isArrowFunction(node) || ts.isFunctionExpression(node)) && ts.isVariableDeclaration(node.parent)) {
      name = node.parent.name.getText(source);
    } else if ((ts.isArrowFunction(node) || ts.isFunctionExpression(node)) && ts.isPropertyAssignment(node.parent)) {
      name = node.parent.name.getText(source);
    }
    const key = name === undefined ? owner : owner === '' ? name : `${owner}>${name}`;
    if (name !== undefined && node.body !== undefined && ts.isBlock(node.body)) {
      if (found.has(key)) throw new Error(`${file}: two functions named ${key}; name them apart for the TODO stages`);
      found.set(key, { start: node.body.getStart(source), end: node.body.getEnd(), text: node.body.getText(source) });
    }
    ts.forEachChild(node, (child) => visit(child, key));
  };
  visit(source, '');
  return found;
}

/** The TODO pieces of one file: for each function whose starter body throws TODO(n), n and both bodies. */
function piecesOf(file, starterText, solutionText) {
  const starter = bodies(file, starterText);
  const solution = bodies(file, solutionText);
  const pieces = [];
  for (const [name, body] of starter) {
    // Only the throw the body itself makes (not one of a function nested in it).
    const own = [...starter.keys()].filter((k) => k.startsWith(`${name}>`)).reduce((text, k) => text.replace(starter.get(k).text, ''), body.text);
    const todo = THROWN_TODO.exec(own);
    if (todo === null) continue;
    const solved = solution.get(name);
    if (solved === undefined) throw new Error(`${file}: the starter's ${name} (TODO(${todo[1]})) is not in the solution: write the solution with the starter's functions, so that each TODO is a piece of it`);
    pieces.push({ name, todo: Number(todo[1]), starterBody: body.text, solution: solved });
  }
  return pieces;
}

/**
 * The lab's TODO stages: `count` (the highest TODO number) and `files(k)`, the solution's
 * files with the pieces of TODOs after k as the starter has them (relative path → text).
 */
export function todoStages(starterDir, solutionDir, solutionFiles) {
  const perFile = [];
  for (const rel of solutionFiles.filter((f) => /\.[cm]?tsx?$/.test(f))) {
    const starterFile = path.join(starterDir, rel);
    if (!fs.existsSync(starterFile)) continue;
    const solutionText = fs.readFileSync(path.join(solutionDir, rel), 'utf8');
    perFile.push({ rel, solutionText, pieces: piecesOf(rel, fs.readFileSync(starterFile, 'utf8'), solutionText) });
  }
  const count = Math.max(0, ...perFile.flatMap((f) => f.pieces.map((p) => p.todo)));
  return {
    count,
    pieces: perFile.flatMap((f) => f.pieces.map((p) => ({ file: f.rel, name: p.name, todo: p.todo }))),
    files(k) {
      const out = {};
      for (const f of perFile) {
        // From the end, so earlier offsets stay right.
        const undone = f.pieces.filter((p) => p.todo > k).sort((a, b) => b.solution.start - a.solution.start);
        let text = f.solutionText;
        for (const p of undone) text = text.slice(0, p.solution.start) + p.starterBody + text.slice(p.solution.end);
        out[f.rel] = text;
      }
      return out;
    },
  };
}

/** The TODO a visible test is for: the highest `TODO(n)` its name carries, or undefined. */
export function todoOfTest(name) {
  const numbers = [...name.matchAll(/TODO\((\d+)(?:\s*[-–,]\s*(\d+))?\)/g)].flatMap((m) => [Number(m[1]), ...(m[2] !== undefined ? [Number(m[2])] : [])]);
  return numbers.length > 0 ? Math.max(...numbers) : undefined;
}

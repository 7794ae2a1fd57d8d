// The grade report webview (see src/grading/reportPanel.ts): draws the model that
// src/core/grading/reportModel.ts builds, sent by postMessage once this script says it
// is ready. Plain browser JavaScript, no libraries, no build step.
//
// Everything in the model may come from the learner's code (their responses are in the
// histories), so the page is built with DOM APIs only: text goes into textContent and
// attributes, never into markup. The page's CSP forbids inline styles and handlers, so
// looks come from classes in report.css and behaviour from addEventListener.
/* global acquireVsCodeApi, document, window, ResizeObserver, requestAnimationFrame */
(function () {
  'use strict';

  const vscode = acquireVsCodeApi();
  const root = document.getElementById('report');
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const STATUS = {
    pass: { icon: '✓', label: 'Passed' },
    fail: { icon: '✗', label: 'Failed' },
    unknown: { icon: '?', label: 'Unknown: not a pass' },
  };
  // A demonstration is not graded: pass means it showed what it meant to; anything else, that it could not.
  const DEMO_STATUS = {
    pass: { icon: '▸', label: 'Shown' },
    fail: { icon: '?', label: 'Could not be shown' },
    unknown: { icon: '?', label: 'Could not be shown' },
  };
  /** What a check's card says, and what a demonstration's says instead. */
  const KIND = {
    check: { status: STATUS, expected: 'Expected', culprits: 'The events that break it', blamed: 'blamed by the check', bodyId: 'check-body', stateKey: '' },
    demo: { status: DEMO_STATUS, expected: 'What it shows', culprits: 'The events to look at', blamed: 'highlighted by the demonstration', bodyId: 'demo-body', stateKey: 'demo:' },
  };
  const OUTCOME_LABEL = {
    ok: 'completed (ok)',
    fail: 'failed (it did not happen)',
    info: 'unknown outcome (it may have happened)',
    pending: 'never completed',
  };
  const MARK_ICON = { fault: '⚡', heal: '✚', crash: '✖', note: '•' };

  // Timeline geometry, in CSS pixels.
  const LANE_HEIGHT = 26;
  const BAR_HEIGHT = 16;
  const MARK_ROW_HEIGHT = 15;
  const MAX_MARK_ROWS = 4;
  const AXIS_HEIGHT = 22;
  const CHAR_WIDTH = 6.6; // an estimate for 11px labels; used only to avoid overlaps
  const PLOT_PADDING = 10;

  /** The timelines on the page, redrawn when their container's width changes. */
  let timelines = [];
  let resizeObserver;
  /** Which cards the learner opened or closed, for this report (kept while the panel is hidden). */
  let state = vscode.getState() || { report: '', open: {} };

  // ─── small DOM helpers ───────────────────────────────────────────────────────

  /** An HTML element with classes, attributes and children (strings become text nodes). */
  function el(tag, options, children) {
    const node = document.createElement(tag);
    applyOptions(node, options);
    append(node, children);
    return node;
  }

  /** An SVG element, likewise. */
  function svg(tag, options, children) {
    const node = document.createElementNS(SVG_NS, tag);
    applyOptions(node, options);
    append(node, children);
    return node;
  }

  function applyOptions(node, options) {
    if (!options) return;
    if (options.className) node.setAttribute('class', options.className);
    if (options.text !== undefined) node.textContent = String(options.text);
    if (options.attrs) {
      for (const [name, value] of Object.entries(options.attrs)) {
        if (value !== undefined && value !== null && value !== false) node.setAttribute(name, String(value));
      }
    }
  }

  function append(node, children) {
    if (children === undefined || children === null) return;
    for (const child of Array.isArray(children) ? children : [children]) {
      if (child === undefined || child === null || child === false) continue;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    }
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function button(label, className, onClick, attrs) {
    const node = el('button', { className, text: label, attrs: Object.assign({ type: 'button' }, attrs || {}) });
    node.addEventListener('click', onClick);
    return node;
  }

  function clip(text, max) {
    return text.length > max ? `${text.slice(0, Math.max(1, max - 1))}…` : text;
  }

  function ms(value) {
    const rounded = Math.round(value);
    if (Math.abs(rounded) < 1000) return `${rounded} ms`;
    return `${(value / 1000).toFixed(value < 10000 ? 2 : 1)} s`;
  }

  function plural(n, one, many) {
    return `${n} ${n === 1 ? one : many}`;
  }

  function saveState() {
    vscode.setState(state);
  }

  // ─── the page ────────────────────────────────────────────────────────────────

  function render(model) {
    const key = `${model.header.labId} ${model.header.startedAt} ${model.header.seed}`;
    if (state.report !== key) state = { report: key, open: {} };
    saveState();
    if (resizeObserver) resizeObserver.disconnect();
    timelines = [];
    resizeObserver = new ResizeObserver(() => requestAnimationFrame(redrawTimelines));

    clear(root);
    root.classList.remove('stale');
    root.appendChild(header(model.header, !!model.problem));
    if (model.problem) root.appendChild(problem(model.problem));
    if (model.checks.length > 0) {
      const list = el('div', { className: 'checks', attrs: { role: 'list' } });
      model.checks.forEach((check, index) => list.appendChild(card(check, index, 'check')));
      root.appendChild(list);
    }
    const demonstrations = model.demonstrations || [];
    if (demonstrations.length > 0) root.appendChild(demonstrationsSection(demonstrations));
    redrawTimelines();
    vscode.postMessage({ type: 'rendered', checks: model.checks.length, demonstrations: demonstrations.length, timelines: timelines.length, decide: root.querySelectorAll('.decide-row').length });
  }

  /** Teaching runs, after the checks: drawn like checks, but never graded. */
  function demonstrationsSection(demonstrations) {
    const list = el('div', { className: 'checks demonstrations-list', attrs: { role: 'list' } });
    demonstrations.forEach((demo, index) => list.appendChild(card(demo, index, 'demo')));
    return el('section', { className: 'demonstrations', attrs: { 'aria-labelledby': 'demonstrations-heading' } }, [
      el('h2', { text: 'Demonstrations — not graded', attrs: { id: 'demonstrations-heading' } }),
      el('p', { className: 'demonstrations-intro', text: 'These runs show what can happen; they count in neither the score nor the verdict.' }),
      list,
    ]);
  }

  function header(h, hasProblem) {
    const s = h.score;
    const verdict = hasProblem ? 'not-run' : h.passed ? 'passed' : 'failed';
    const count = (kind, icon, n, text, title) =>
      el('span', { className: `count count-${kind}${n === 0 ? ' count-zero' : ''}`, attrs: { title } }, [el('span', { className: 'icon', text: icon, attrs: { 'aria-hidden': 'true' } }), ` ${n} ${text}`]);
    const counts = el('div', { className: 'counts' }, [
      count('pass', '✓', s.passed, 'passed', 'Checks that passed'),
      count('fail', '✗', s.failed, 'failed', 'Checks that failed'),
      count('unknown', '?', s.unknown, 'unknown', 'Checks that could not be decided: not a pass'),
    ]);
    const started = new Date(h.startedAt);
    const meta = [h.backendLabel, `seed ${h.seed}`, `took ${h.durationText}`];
    if (!Number.isNaN(started.getTime())) meta.push(`graded ${started.toLocaleString()}`);
    return el('header', { className: `report-header verdict-${verdict}` }, [
      el('div', { className: 'header-main' }, [
        hasProblem
          ? el('div', { className: 'score', attrs: { 'aria-label': 'No check ran' } }, [el('span', { className: 'score-passed', text: '✗' }), el('span', { className: 'score-total', text: ' 0 checks ran' })])
          : el('div', { className: 'score', attrs: { 'aria-label': `${s.passed} of ${s.total} checks passed` } }, [
              el('span', { className: 'score-passed', text: String(s.passed) }),
              el('span', { className: 'score-total', text: `/${s.total}` }),
            ]),
        el('div', { className: 'header-text' }, [
          el('h1', { text: h.title }),
          el('p', { className: 'summary', text: h.summary }),
          hasProblem ? null : counts,
          el('p', { className: 'meta', text: meta.join(' · ') }),
        ]),
        el('div', { className: 'header-actions' }, [button('Grade again', 'primary', () => vscode.postMessage({ type: 'gradeAgain' }))]),
      ]),
    ]);
  }

  function problem(p) {
    const section = el('section', { className: 'problem', attrs: { 'aria-labelledby': 'problem-heading' } }, [
      el('h2', { text: p.heading, attrs: { id: 'problem-heading' } }),
      el('pre', { className: 'problem-message', text: p.message }),
    ]);
    if (p.diagnostics.length > 0) {
      const list = el('ul', { className: 'diagnostics' });
      for (const d of p.diagnostics) {
        const link = button(d.location, 'link location', () => vscode.postMessage({ type: 'openFile', file: d.file, line: d.line, column: d.column }), {
          title: `Open ${d.location}`,
        });
        list.appendChild(el('li', {}, d.message ? [link, el('span', { className: 'diagnostic-message', text: d.message })] : [link]));
      }
      section.appendChild(list);
    }
    if (p.output.length > 0) {
      section.appendChild(
        el('details', { className: 'output' }, [el('summary', { text: 'Last output of your code' }), el('pre', { text: p.output.join('\n') })]),
      );
    }
    section.appendChild(el('p', { className: 'advice', text: p.advice }));
    return section;
  }

  function card(check, index, kind) {
    const k = KIND[kind];
    const stateKey = `${k.stateKey}${check.id}`;
    const open = Object.prototype.hasOwnProperty.call(state.open, stateKey) ? state.open[stateKey] === true : check.expanded;
    const status = k.status[check.status] || k.status.unknown;
    const bodyId = `${k.bodyId}-${index}`;
    const toggle = el('button', { className: 'card-toggle', attrs: { type: 'button', 'aria-expanded': String(open), 'aria-controls': bodyId } }, [
      el('span', { className: 'chevron', attrs: { 'aria-hidden': 'true' } }),
      el('span', { className: 'status-icon', text: status.icon, attrs: { 'aria-hidden': 'true' } }),
      el('span', { className: 'card-title', text: check.title }),
      el('span', { className: 'status-label', text: status.label }),
      el('span', { className: 'card-meta', text: ms(check.durationMs) }),
    ]);
    const body = el('div', { className: 'card-body', attrs: { id: bodyId, hidden: !open } }, cardBody(check, kind));
    const className = `card ${kind === 'demo' ? 'demo ' : ''}status-${check.status}${open ? ' open' : ''}`;
    const node = el('section', { className, attrs: { role: 'listitem', 'aria-label': `${kind === 'demo' ? 'Demonstration, not graded' : status.label}: ${check.title}` } }, [toggle, body]);
    toggle.addEventListener('click', () => {
      const nowOpen = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(nowOpen));
      body.hidden = !nowOpen;
      node.classList.toggle('open', nowOpen);
      state.open[stateKey] = nowOpen;
      saveState();
      if (nowOpen) redrawTimelines();
    });
    return node;
  }

  function cardBody(check, kind) {
    const k = KIND[kind];
    const passed = check.status === 'pass';
    // An undecided check expected nothing yet: say what it checks and why it is undecided.
    const undecided = kind === 'check' && check.status === 'unknown';
    const rows = [
      [undecided ? 'What it checks' : k.expected, check.expected, 'expected'],
      [undecided ? 'Why it is undecided' : 'What happened', check.actual, 'actual'],
    ];
    if (check.hint !== undefined) rows.push(['Hint', check.hint, 'hint']);
    if (check.toDecide !== undefined) rows.push(['To decide it', check.toDecide, 'decide']);
    const facts = el('dl', { className: 'facts' });
    for (const [term, text, kind] of rows) {
      facts.appendChild(el('dt', { className: `term-${kind}`, text: term }));
      facts.appendChild(el('dd', { className: `value-${kind}`, text }));
    }
    const parts = [facts];
    if (check.toDecide !== undefined) {
      parts.push(
        el('div', { className: 'decide-row' }, [
          button('Grade with Docker', 'primary', () => vscode.postMessage({ type: 'gradeWithDocker' }), { title: 'Grade every check again on real servers in Docker (Docker must be running)' }),
          button('Grade in CI…', 'secondary', () => vscode.postMessage({ type: 'gradeInCi' }), { title: "Write a GitHub Actions workflow that grades this lab with Docker on GitHub's runners" }),
        ]),
      );
    }
    const seedRow = el('div', { className: 'seed-row' }, [
      el('span', { className: 'seed' }, ['Seed ', el('code', { text: String(check.seed) })]),
      el('span', { className: 'check-id' }, ['Check ', el('code', { text: check.id })]),
    ]);
    // A demonstration is not graded, so there is no failure to replay.
    if (!passed && kind === 'check') {
      const label = check.status === 'fail' ? 'Replay this failure' : 'Replay this check';
      seedRow.appendChild(
        button(label, 'secondary', () => vscode.postMessage({ type: 'replay', checkId: check.id, seed: check.seed }), {
          title: `Run "${check.title}" again with seed ${check.seed}, the same schedule`,
        }),
      );
    }
    parts.push(seedRow);
    if (check.culprits.length > 0) {
      const list = el('ol', { className: 'culprits' });
      for (const c of check.culprits) list.appendChild(el('li', {}, [el('span', { className: 'event-index', text: `#${c.event}` }), el('code', { text: c.text })]));
      parts.push(el('div', { className: 'culprits-block' }, [el('h3', { text: k.culprits }), list]));
    }
    // One timeline per part of the history the check focused on (each key that broke, say).
    for (const timeline of check.timelines || (check.timeline ? [check.timeline] : [])) parts.push(timelineBlock(check, timeline, kind));
    return parts;
  }

  // ─── the history timeline ───────────────────────────────────────────────────

  function timelineBlock(check, t, kind) {
    const blamed = KIND[kind].blamed;
    const plot = el('div', { className: 'timeline-plot' });
    const details = el('div', { className: 'timeline-details', attrs: { 'aria-live': 'polite' } }, [
      el('p', { className: 'placeholder', text: 'Hover over an operation or a mark, or move to it with Tab, to see its input, output and detail.' }),
    ]);
    const legend = el('div', { className: 'legend', attrs: { 'aria-hidden': 'true' } }, [
      legendItem('swatch-ok', 'ok'),
      legendItem('swatch-fail', 'failed'),
      legendItem('swatch-info', 'unknown (open-ended)'),
      legendItem('swatch-pending', 'never completed'),
      legendItem('swatch-culprit', blamed),
    ]);
    const bars = t.lanes.reduce((n, lane) => n + lane.bars.length, 0);
    const figure = el('figure', { className: 'timeline' }, [
      el('figcaption', {}, [
        el('h3', { text: t.focus ? `History: ${t.focus.label}` : 'History' }),
        el('span', { className: 'timeline-summary', text: `${plural(t.lanes.length, 'process', 'processes')}, ${plural(bars, 'operation', 'operations')}, ${plural(t.marks.length, 'mark', 'marks')} over ${ms(t.end - t.start)}` }),
        ...(t.focus
          ? [
              el('p', {
                className: 'timeline-focus',
                text: `Showing ${t.focus.label}: ${t.focus.totalEvents - t.focus.hiddenEvents} of the ${kind === 'demo' ? 'demonstration' : 'check'}'s ${t.focus.totalEvents} events. The whole history is in the report that data-labs grade --json prints.`,
              }),
            ]
          : []),
      ]),
      plot,
      legend,
      details,
    ]);
    const entry = { check, timeline: t, blamed, plot, details, width: -1, selected: undefined };
    timelines.push(entry);
    resizeObserver.observe(plot);
    return figure;
  }

  function legendItem(swatch, label) {
    return el('span', { className: 'legend-item' }, [el('span', { className: `swatch ${swatch}` }), label]);
  }

  function redrawTimelines() {
    for (const entry of timelines) {
      const width = Math.floor(entry.plot.clientWidth);
      if (width > 0 && width !== entry.width) {
        entry.width = width;
        drawTimeline(entry, width);
      }
    }
  }

  /** Ticks at 1, 2 or 5 × 10^k, about `count` of them, over [start, end]. */
  function ticks(start, end, count) {
    const span = Math.max(end - start, 1);
    const raw = span / count;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((f) => f * power).find((s) => s >= raw) || raw;
    const out = [];
    for (let v = Math.ceil(start / step) * step; v <= end + 1e-9; v += step) out.push(v);
    return out;
  }

  function drawTimeline(entry, width) {
    const t = entry.timeline;
    const hasCulprits = t.lanes.some((l) => l.bars.some((b) => b.highlighted)) || t.marks.some((m) => m.highlighted);
    const longest = t.lanes.reduce((n, lane) => Math.max(n, lane.process.length), 4);
    const gutter = Math.min(150, Math.round(longest * CHAR_WIDTH) + 16);
    const left = gutter + PLOT_PADDING;
    const right = Math.max(left + 40, width - PLOT_PADDING);
    const span = t.end - t.start;
    const x = (at) => (span <= 0 ? left : left + ((at - t.start) / span) * (right - left));

    // Mark labels sit in rows above the lanes, each in the first row where it does not overlap.
    const rowEnds = [];
    const placed = t.marks.map((mark) => {
      const label = `${MARK_ICON[mark.type] || '•'} ${clip(mark.op, 32)}`;
      const labelWidth = label.length * CHAR_WIDTH;
      const mx = x(mark.at);
      const anchorEnd = mx + 3 + labelWidth > width - 2;
      const from = anchorEnd ? mx - 3 - labelWidth : mx + 3;
      const to = anchorEnd ? mx - 3 : mx + 3 + labelWidth;
      let row = rowEnds.findIndex((end) => end + 6 <= from);
      if (row === -1 && rowEnds.length < MAX_MARK_ROWS) {
        row = rowEnds.length;
        rowEnds.push(-Infinity);
      }
      if (row !== -1) rowEnds[row] = to;
      return { mark, label, mx, anchorEnd, row };
    });
    const markBand = rowEnds.length * MARK_ROW_HEIGHT + (rowEnds.length > 0 ? 4 : 0);
    const lanesTop = markBand + 2;
    const lanesBottom = lanesTop + t.lanes.length * LANE_HEIGHT;
    const height = lanesBottom + AXIS_HEIGHT;

    const root = svg('svg', {
      className: `timeline-svg${hasCulprits ? ' has-culprits' : ''}`,
      attrs: { width, height, viewBox: `0 0 ${width} ${height}`, role: 'group', 'aria-label': `History of ${entry.check.title}${t.focus ? `: ${t.focus.label}` : ''}` },
    });

    // Lanes: a band and a label per process.
    t.lanes.forEach((lane, i) => {
      const y = lanesTop + i * LANE_HEIGHT;
      root.appendChild(svg('rect', { className: `lane-band${i % 2 === 1 ? ' odd' : ''}`, attrs: { x: 0, y, width, height: LANE_HEIGHT } }));
      root.appendChild(
        svg('text', { className: 'lane-label', text: clip(lane.process, Math.floor((gutter - 10) / CHAR_WIDTH)), attrs: { x: 6, y: y + LANE_HEIGHT / 2 + 4 } }, [svg('title', { text: lane.process })]),
      );
    });
    root.appendChild(svg('line', { className: 'gutter-line', attrs: { x1: gutter, x2: gutter, y1: lanesTop, y2: lanesBottom } }));

    // The time axis.
    const axis = svg('g', { className: 'axis', attrs: { 'aria-hidden': 'true' } });
    axis.appendChild(svg('line', { className: 'axis-line', attrs: { x1: left, x2: right, y1: lanesBottom + 1, y2: lanesBottom + 1 } }));
    // Ticks at round offsets from the start, as the labels show offsets.
    const tickValues = span > 0 ? ticks(0, span, Math.max(2, Math.floor((right - left) / 90))) : [0];
    tickValues.forEach((offset) => {
      const v = t.start + offset;
      const tx = x(v);
      axis.appendChild(svg('line', { className: 'tick', attrs: { x1: tx, x2: tx, y1: lanesBottom + 1, y2: lanesBottom + 5 } }));
      const anchor = tx > right - 20 ? 'end' : tx < left + 20 ? 'start' : 'middle';
      axis.appendChild(svg('text', { className: 'tick-label', text: `+${ms(v - t.start)}`, attrs: { x: tx, y: lanesBottom + 17, 'text-anchor': anchor } }));
    });
    root.appendChild(axis);

    const focusables = [];

    // Messages: an arrow from the sending lane to the receiving one, under the bars; a
    // delivery the channel lost ends in a cross instead of a head.
    const laneIndex = new Map(t.lanes.map((lane, i) => [lane.process, i]));
    const laneMiddle = (process) => lanesTop + (laneIndex.get(process) || 0) * LANE_HEIGHT + LANE_HEIGHT / 2;
    const arrows = svg('g', { className: 'message-arrows', attrs: { 'aria-hidden': 'true' } });
    for (const a of t.arrows || []) {
      if (!laneIndex.has(a.from.process) || !laneIndex.has(a.to.process)) continue;
      const x1 = x(a.from.at);
      const y1 = laneMiddle(a.from.process);
      const x2 = Math.max(x(a.to.at), x1 + 1);
      const y2 = laneMiddle(a.to.process);
      const group = svg('g', { className: `message-arrow${a.delivered ? '' : ' lost'}${a.highlighted ? ' culprit' : ''}` });
      group.appendChild(svg('line', { className: 'message-line', attrs: { x1, y1, x2, y2 } }));
      if (a.delivered) {
        const angle = Math.atan2(y2 - y1, x2 - x1);
        const head = (d) => `${x2 - 6 * Math.cos(angle + d)} ${y2 - 6 * Math.sin(angle + d)}`;
        group.appendChild(svg('path', { className: 'message-head', attrs: { d: `M ${head(0.45)} L ${x2} ${y2} L ${head(-0.45)} Z` } }));
      } else {
        group.appendChild(svg('path', { className: 'message-lost', attrs: { d: `M ${x2 - 3} ${y2 - 3} L ${x2 + 3} ${y2 + 3} M ${x2 - 3} ${y2 + 3} L ${x2 + 3} ${y2 - 3}` } }));
      }
      group.appendChild(svg('title', { text: `message ${a.message} from ${a.from.process} to ${a.to.process}: sent at +${ms(a.from.at - t.start)}, ${a.delivered ? 'delivered' : 'lost'} at +${ms(a.to.at - t.start)}` }));
      arrows.appendChild(group);
    }
    root.appendChild(arrows);

    // Bars: invocation to completion; open-ended outcomes run to the end.
    t.lanes.forEach((lane, i) => {
      const y = lanesTop + i * LANE_HEIGHT + (LANE_HEIGHT - BAR_HEIGHT) / 2;
      for (const bar of lane.bars) {
        const x1 = x(bar.start);
        const barWidth = Math.max(4, x(bar.end) - x1);
        const open = bar.outcome === 'info' || bar.outcome === 'pending';
        const label = `${lane.process}: ${bar.label || bar.op}, ${OUTCOME_LABEL[bar.outcome] || bar.outcome}, from +${ms(bar.start - t.start)}${open ? '' : ` to +${ms(bar.end - t.start)}`}${bar.highlighted ? `, ${entry.blamed}` : ''}`;
        const group = svg('g', {
          className: `bar bar-${bar.outcome}${bar.highlighted ? ' culprit' : ''}`,
          attrs: { tabindex: 0, role: 'button', 'aria-label': label },
        });
        group.appendChild(svg('rect', { className: 'bar-rect', attrs: { x: x1, y, width: barWidth, height: BAR_HEIGHT, rx: 3 } }));
        if (open) {
          // An arrow at the end: it may still take effect.
          const ax = x1 + barWidth;
          group.appendChild(svg('path', { className: 'bar-arrow', attrs: { d: `M ${ax - 6} ${y + 3} L ${ax} ${y + BAR_HEIGHT / 2} L ${ax - 6} ${y + BAR_HEIGHT - 3}` } }));
        }
        const text = barText(bar, Math.floor((barWidth - 10) / CHAR_WIDTH));
        if (text !== undefined) {
          group.appendChild(svg('text', { className: 'bar-label', text, attrs: { x: x1 + 5, y: y + BAR_HEIGHT / 2 + 4 } }));
        }
        group.appendChild(svg('title', { text: label }));
        const key = `bar ${bar.events.join(' ')}`;
        wire(entry, group, key, () => barDetails(bar, lane.process, t, entry.blamed));
        root.appendChild(group);
        focusables.push({ node: group, key, highlighted: bar.highlighted, at: bar.start, show: () => barDetails(bar, lane.process, t, entry.blamed) });
      }
    });

    // Marks: a vertical line across the lanes, labelled above them.
    for (const p of placed) {
      const m = p.mark;
      const label = `${m.type} at +${ms(m.at - t.start)} by ${m.process}: ${m.op}${m.highlighted ? `, ${entry.blamed}` : ''}`;
      const group = svg('g', { className: `mark mark-${m.type}${m.highlighted ? ' culprit' : ''}`, attrs: { tabindex: 0, role: 'button', 'aria-label': label } });
      const top = p.row === -1 ? lanesTop : p.row * MARK_ROW_HEIGHT + 2;
      group.appendChild(svg('line', { className: 'mark-line', attrs: { x1: p.mx, x2: p.mx, y1: top, y2: lanesBottom } }));
      // A wider, invisible line, so that the mark is easy to hover.
      group.appendChild(svg('line', { className: 'mark-hit', attrs: { x1: p.mx, x2: p.mx, y1: top, y2: lanesBottom } }));
      if (p.row !== -1) {
        group.appendChild(
          svg('text', {
            className: 'mark-label',
            text: p.label,
            attrs: { x: p.anchorEnd ? p.mx - 3 : p.mx + 3, y: p.row * MARK_ROW_HEIGHT + 12, 'text-anchor': p.anchorEnd ? 'end' : 'start' },
          }),
        );
      }
      group.appendChild(svg('title', { text: label }));
      const key = `mark ${m.event}`;
      wire(entry, group, key, () => markDetails(m, t, entry.blamed));
      root.appendChild(group);
      focusables.push({ node: group, key, highlighted: m.highlighted, at: m.at, show: () => markDetails(m, t, entry.blamed) });
    }

    clear(entry.plot);
    entry.plot.appendChild(root);

    // Redrawn (the width changed): the same item stays selected. Drawn for the first time:
    // the first blamed item is shown at once, as that is what the learner needs to see.
    const again = focusables.find((f) => f.key === entry.selected);
    const first = focusables.filter((f) => f.highlighted).sort((a, b) => a.at - b.at)[0];
    const chosen = again || (entry.selected === undefined ? first : undefined);
    if (chosen) select(entry, chosen.node, chosen.key, chosen.show);
  }

  /**
   * The text that fits in a bar `room` characters wide: its label ("put k2=5 → ok"), else
   * its short label ("put 5 → ok"), else its operation, cut; nothing when too little of it fits.
   */
  function barText(bar, room) {
    for (const text of [bar.label, bar.shortLabel, bar.op]) {
      if (text && text.length <= room) return text;
    }
    const text = clip(bar.op, room);
    return text.length >= Math.min(bar.op.length, 8) ? text : undefined;
  }

  function wire(entry, node, key, show) {
    const activate = () => select(entry, node, key, show);
    node.addEventListener('mouseenter', activate);
    node.addEventListener('focus', activate);
    node.addEventListener('click', activate);
    node.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        activate();
      }
    });
  }

  function select(entry, node, key, show) {
    for (const old of entry.plot.querySelectorAll('.selected')) old.classList.remove('selected');
    node.classList.add('selected');
    entry.selected = key;
    clear(entry.details);
    entry.details.appendChild(show());
  }

  function detailsList(title, className, rows) {
    const dl = el('dl', { className: 'detail-list' });
    for (const [term, value, mono] of rows) {
      if (value === undefined || value === null || value === '') continue;
      dl.appendChild(el('dt', { text: term }));
      dl.appendChild(el('dd', {}, mono ? el('pre', { text: value }) : value));
    }
    return el('div', { className: `detail ${className}` }, [el('h4', { text: title }), dl]);
  }

  function barDetails(bar, process, t, blamed) {
    const open = bar.outcome === 'info' || bar.outcome === 'pending';
    const when = open ? `invoked at +${ms(bar.start - t.start)}; ${bar.outcome === 'info' ? 'outcome unknown' : 'no completion'}` : `+${ms(bar.start - t.start)} → +${ms(bar.end - t.start)} (${ms(bar.end - bar.start)})`;
    return detailsList(`${process}: ${bar.label || bar.op}`, `detail-${bar.outcome}${bar.highlighted ? ' culprit' : ''}`, [
      ['Outcome', `${OUTCOME_LABEL[bar.outcome] || bar.outcome}${bar.highlighted ? ` — ${blamed}` : ''}`],
      ['When', when],
      ['Input', bar.input, true],
      ['Output', bar.output, true],
      ['Detail', bar.detail, true],
      ['Events', bar.events.map((e) => `#${e}`).join(', ')],
    ]);
  }

  function markDetails(mark, t, blamed) {
    return detailsList(`${MARK_ICON[mark.type] || '•'} ${mark.type}: ${mark.op}`, `detail-mark${mark.highlighted ? ' culprit' : ''}`, [
      ['Kind', `${mark.type}${mark.highlighted ? ` — ${blamed}` : ''}`],
      ['When', `+${ms(mark.at - t.start)}`],
      ['By', mark.process],
      ['Value', mark.value, true],
      ['Detail', mark.detail, true],
      ['Event', `#${mark.event}`],
    ]);
  }

  // ─── messages ────────────────────────────────────────────────────────────────

  window.addEventListener('message', (event) => {
    const message = event.data;
    if (message && message.type === 'report' && message.model) {
      try {
        render(message.model);
      } catch (error) {
        reportError(error);
      }
    } else if (message && message.type === 'grading' && typeof message.text === 'string') {
      // A new grading runs: the report below is the previous one until its report comes (render clears this).
      root.classList.add('stale');
      const banner = el('div', { className: 'grading-banner', attrs: { role: 'status' } }, [el('span', { className: 'spinner', attrs: { 'aria-hidden': 'true' } }), message.text]);
      root.insertBefore(banner, root.firstChild);
      vscode.postMessage({ type: 'gradingShown' });
    }
  });
  window.addEventListener('error', (event) => reportError(event.error || event.message));

  function reportError(error) {
    const message = error && error.stack ? String(error.stack) : String(error);
    vscode.postMessage({ type: 'error', message });
    clear(root);
    root.appendChild(el('p', { className: 'error', text: `The report could not be drawn: ${message.split('\n')[0]}` }));
  }

  vscode.postMessage({ type: 'ready' });
})();

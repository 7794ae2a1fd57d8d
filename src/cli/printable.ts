/**
 * What the CLI prints comes partly from others: a learner's error messages, values in a
 * history file, names from a lab folder. Printed raw, their control characters would drive
 * the terminal (move the cursor, rewrite earlier lines, set the window title, and on some
 * terminals worse). Every control character but newline and tab is shown as its escape
 * (`\u001b`), which inside a JSON string is the same character written another way, so
 * `--json` output stays valid and means the same; so are the Unicode controls that reorder
 * text on screen (bidirectional overrides and isolates) and lone surrogates.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

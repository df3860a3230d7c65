/**
 * Untrusted text made inert for where it goes (DESIGN.md, "CLI contract"): text from plans, AWS,
 * SSM, the pins and the config is escaped for GitHub-flavoured markdown and HTML, and has its
 * control characters made visible on terminals and in logs. Every place that interpolates such
 * text into markdown or terminal output calls one of these, by context:
 *
 * | where the text lands                      | function            |
 * |-------------------------------------------|---------------------|
 * | markdown prose, a table cell, a quote     | `markdownText`      |
 * | a code span (`id`), outside a table       | `codeSpan`          |
 * | a code span inside a table cell           | `tableCode`         |
 * | a line inside a fenced code block         | `codeLine`          |
 * | raw HTML (`<summary>`, an attribute)      | `htmlText`          |
 * | a terminal or a text log, several lines   | `terminalSafe`      |
 * | a terminal or a text log, one line/field  | `terminalLine`      |
 * | JSON text (after JSON.stringify)          | `jsonSafe`          |
 *
 * The rules follow the GFM spec: a code span ends at a backtick string
 * of the same length as the one that opened it, and its content is literal (no escapes, no
 * HTML, no links), except that a raw HTML tag or autolink that starts inside it and ends after
 * it wins (hence `<` broken inside code spans); a backslash escapes any ASCII punctuation
 * character in text; a table row is split at every `|` not escaped as `\|`, code spans
 * included, before anything else is parsed; a line ending ends a table row and may end a code
 * block, so untrusted text never keeps one.
 */

/** ASCII C0 controls (tab and newline apart), DEL, the C1 controls. */
const CONTROLS = "\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f";
/**
 * Invisible characters that reorder or break what is shown: the line and paragraph separators,
 * and the bidirectional embeddings, overrides and isolates ("Trojan Source").
 */
const INVISIBLE = "\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069";

const UNSAFE = new RegExp(`[${CONTROLS}${INVISIBLE}]`, "g");
const UNSAFE_LINE = new RegExp(`[\\n\\t${CONTROLS}${INVISIBLE}]`, "g");
const UNSAFE_SINGLE_LINE = new RegExp(`[\\n${CONTROLS}${INVISIBLE}]`, "g");

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** `\x1b` for ESC, `\x9b` for the 8-bit CSI, `\u202e` for a bidi override, `\n` `\r` `\t`. */
export function visibleEscape(ch: string): string {
  const code = ch.charCodeAt(0);
  return NAMED[ch] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`);
}

/**
 * Text for a terminal or a text log: every C0 control but tab and newline (ESC, BEL, CR, ...),
 * DEL, every C1 control (U+0080-U+009F, U+009B among them) and the invisible reordering
 * characters become visible escapes (`\x1b`), so no text can move the cursor, retitle or clear
 * the terminal, or hide what follows it. amiroll's own colours and the progress line's `\r`
 * are added around such text, never passed through this.
 */
export function terminalSafe(text: string): string {
  return String(text).replace(UNSAFE, visibleEscape);
}

/** `terminalSafe`, and a newline shown as `\n` too: one field or line that cannot forge another. */
export function terminalLine(text: string): string {
  return String(text).replace(UNSAFE_SINGLE_LINE, visibleEscape);
}

/** Every control (newline and tab too) visible: what any markdown context gets first. */
function oneLine(text: string): string {
  return String(text).replace(UNSAFE_LINE, visibleEscape);
}

/**
 * Markdown metacharacters that open something: code (`` ` ``), emphasis (`*`, `~`), links and
 * images (`[`, `]`), entities (`&`), math (`$`), a table cell's end (`|`), and the backslash
 * itself (so a trailing one escapes nothing of ours). `_` is handled apart (only where it could
 * open or close emphasis), `<` and `>` too (as entities).
 */
const MARKDOWN_SPECIAL = /[\\`*~[\]&$|]/g;
const WORD = /[\p{L}\p{N}]/u;

/**
 * Untrusted text in markdown prose, a table cell or a quote: one line (controls visible), every
 * character that could start markup backslash-escaped, `<` and `>` as `&lt;` and `&gt;` (no raw
 * HTML, HTML comment or autolink, and no `<!--` in the comment's source for anything to mistake
 * for a marker), and bare URLs (`https://`, `www.`) broken so that GitHub does not make them
 * links. Renders as the text itself.
 */
export function markdownText(text: string): string {
  const line = oneLine(text);
  let out = "";
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === "_") {
      // Between two letters or digits an underscore can neither open nor close emphasis.
      out += WORD.test(line[i - 1] ?? "") && WORD.test(line[i + 1] ?? "") ? "_" : "\\_";
    } else if (ch === "<" || ch === ">") {
      out += ch === "<" ? "&lt;" : "&gt;";
    } else {
      out += ch.replace(MARKDOWN_SPECIAL, "\\$&");
    }
  }
  // GFM's extended autolinks: `scheme://...` and `www.`, found in plain text.
  return out.replace(/:\/\//g, "\\://").replace(/(^|[^\p{L}\p{N}])www\./giu, "$1www\\.");
}

/** The longest run of backticks in `text`. */
function longestBacktickRun(text: string): number {
  let longest = 0;
  for (const run of text.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  return longest;
}

/**
 * `<` that could open raw HTML, an HTML comment or an autolink (`<a`, `</`, `<!`, `<?`) gets a
 * zero-width space after it. Inside a code span that matters: GFM lets a raw HTML tag or
 * comment that starts inside a code span and ends after it win over the span.
 */
function breakTags(text: string): string {
  return text.replace(/<(?=[A-Za-z/!?])/g, "<\u200b");
}

function span(text: string, table: boolean): string {
  const content = breakTags(oneLine(text));
  if (content === "") return "` `";
  const fence = "`".repeat(longestBacktickRun(content) + 1);
  // A space on both sides (stripped again by GFM) keeps a backtick at either end off the fence,
  // and keeps the text's own outer spaces.
  const pad = /^[` ]|[` ]$/.test(content) && !/^ +$/.test(content) ? " " : "";
  const body = table ? content.replace(/\|/g, "\\|") : content;
  return `${fence}${pad}${body}${pad}${fence}`;
}

/**
 * Untrusted text as a code span (`ami-0123`, a resource address): fenced with one backtick more
 * than its longest backtick run, on one line, `<` that could open HTML broken. Not for a table
 * cell (there a `|` must be escaped, which a code span elsewhere would show): see `tableCode`.
 */
export function codeSpan(text: string): string {
  return span(text, false);
}

/** `codeSpan` inside a GFM table cell: its `|` escaped as `\|` (GFM takes the escape out again). */
export function tableCode(text: string): string {
  return span(text, true);
}

/**
 * Untrusted text on a line of a fenced code block: one line (so it can never start a closing
 * fence), and `<` that could open HTML broken as in a code span. GFM shows a code block's text
 * as it is anyway; broken, the comment's source holds no `<!--`, `</details>` or `<script` of
 * the plan's either, for whatever else reads it (a marker search, a mail client, a chat).
 */
export function codeLine(text: string): string {
  return breakTags(oneLine(text));
}

/** Untrusted text inside raw HTML (`<summary>`, an attribute value): entities for `& < > " '`. */
export function htmlText(text: string): string {
  const escaped = oneLine(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
  // Markdown still runs over the text of some HTML (an inline tag's content): escape its openers too.
  return escaped.replace(/[\\`*_~[\]$|]/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const JSON_UNSAFE = new RegExp(`[\\u007f-\\u009f${INVISIBLE}]`, "g");

/**
 * JSON text (JSON.stringify's output) safe for a terminal: JSON.stringify escapes the C0
 * controls but passes DEL, the C1 controls and the invisible reordering characters; they
 * become `\u009b`-style escapes. Only strings can hold such characters, so the result is the
 * same JSON value.
 */
export function jsonSafe(json: string): string {
  return json.replace(JSON_UNSAFE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

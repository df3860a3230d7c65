/**
 * A small reader of the GitHub-flavoured markdown amiroll writes, for the "untrusted text is
 * inert" tests: it follows GFM's rules for what could turn text live (fenced code blocks, code
 * spans, backslash escapes, table cells, raw HTML, links, autolinks, entities) and reports
 * every live construct that is not amiroll's own, with the text as a reader would see it.
 *
 * Not a full renderer: emphasis, headings and lists are left as they are (they make nothing
 * live), which is all the assertions need.
 */

/** amiroll's own raw HTML and link-like syntax, allowed where it appears. */
const OWN_HTML = [/^<br>/, /^<https:\/\/github\.com\/aws\/amazon-ecs-ami\/releases\/tag\/\d{8}>/];
/** amiroll's `<details>` lines: an HTML block of their own, at the start of a line. */
const OWN_DETAILS = [/^<details><summary>[^<]*<\/summary>$/, /^<\/details>$/];
const OWN_BRACKETS = [/^\[!(?:WARNING|NOTE)\]/];
/** The sticky marker, amiroll's own only as the very first line. */
const MARKER_LINE = /^<!-- amiroll:plan env=[A-Za-z0-9][A-Za-z0-9_.-]* part=\d+\/\d+ -->$/;

const ASCII_PUNCTUATION = /[!-/:-@[-`{-~]/;
const ZWSP = "\u200b";

export interface MarkdownReport {
  /** Every live construct that is not amiroll's own, e.g. `raw HTML "<img" on line 4`. */
  readonly problems: string[];
  /** The text as shown: escapes taken out, code spans' content, table cells joined by " | ". */
  readonly text: string;
}

/** Reads `markdown`; `problems` is empty when every piece of untrusted text in it is inert. */
export function inspectMarkdown(markdown: string): MarkdownReport {
  const problems: string[] = [];
  const shown: string[] = [];
  const lines = markdown.split("\n");
  counts.details = 0;
  counts.closed = 0;
  let fence: string | undefined;
  let columns = 0;
  lines.forEach((line, index) => {
    const where = `line ${index + 1}`;
    if (/[\r\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(line)) problems.push(`a control character on ${where}`);
    if (index === 0 && MARKER_LINE.test(line)) return;
    if (fence !== undefined) {
      const close = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
      if (close && close[1][0] === fence[0] && close[1].length >= fence.length) {
        if (close[2].trim() !== "") problems.push(`a code fence closed by text on ${where}: ${JSON.stringify(line)}`);
        fence = undefined;
      } else {
        shown.push(line.replaceAll(`<${ZWSP}`, "<"));
      }
      return;
    }
    const open = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (open) {
      fence = open[1];
      return;
    }
    if (line.startsWith("|")) {
      const row = tableRow(line, where, problems);
      // A table's rows all have its header's number of cells.
      const header = index > 0 && lines[index - 1].startsWith("|") ? columns : undefined;
      if (header !== undefined && row.cells !== header) problems.push(`a table row of ${row.cells} cells under a header of ${header} on ${where}`);
      if (header === undefined) columns = row.cells;
      shown.push(row.text);
      return;
    }
    const details = OWN_DETAILS.find((p) => p.test(line));
    if (details) {
      if (line === "</details>") counts.closed++;
      else counts.details++;
      shown.push(line);
      return;
    }
    shown.push(inline(line, where, problems));
  });
  if (fence !== undefined) problems.push("a code fence left open");
  // A raw HTML comment opener anywhere but the marker line: GitHub would hide what follows.
  const comments = markdown.split("<!--").length - 1;
  if (comments > (MARKER_LINE.test(lines[0]) ? 1 : 0)) problems.push(`${comments} "<!--" in the body`);
  if (counts.details !== counts.closed) problems.push(`<details> opened ${counts.details} times, closed ${counts.closed}`);
  return { problems, text: shown.join("\n") };
}

/** Table rows: cells split at every `|` not right after a backslash (GFM), each then inline. */
function tableRow(line: string, where: string, problems: string[]): { cells: number; text: string } {
  const cells: string[] = [];
  let current = "";
  for (let i = 0; i < line.length; i++) {
    if (line[i] === "|" && line[i - 1] !== "\\") {
      cells.push(current);
      current = "";
    } else current += line[i];
  }
  cells.push(current);
  // The leading and trailing pipe make empty first and last pieces.
  const inner = cells.slice(1, cells[cells.length - 1].trim() === "" ? -1 : undefined);
  return { cells: inner.length, text: `| ${inner.map((c) => inline(c.replace(/\\\|/g, "|").trim(), where, problems)).join(" | ")} |` };
}

/** amiroll's own `<details>` opened and closed. */
const counts = { details: 0, closed: 0 };

/** Inline text: escapes, code spans, and whatever could be live. */
function inline(text: string, where: string, problems: string[]): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    const rest = text.slice(i);
    if (ch === "\\" && ASCII_PUNCTUATION.test(text[i + 1] ?? "")) {
      out += text[i + 1];
      i += 2;
      continue;
    }
    if (ch === "`") {
      const run = /^`+/.exec(rest)![0];
      // The closing backtick string: the same length, not part of a longer run.
      const closer = new RegExp(`(?<!\`)${run}(?!\`)`, "g");
      closer.lastIndex = i + run.length;
      const found = closer.exec(text);
      if (!found) {
        problems.push(`an unmatched backtick string ${run} on ${where}`);
        out += run;
        i += run.length;
        continue;
      }
      let content = text.slice(i + run.length, found.index);
      if (/<(?![\u200b])[A-Za-z/!?]/.test(content)) problems.push(`a tag opener inside a code span on ${where}: ${JSON.stringify(content)}`);
      if (content.startsWith(" ") && content.endsWith(" ") && content.trim() !== "") content = content.slice(1, -1);
      out += content.replaceAll(`<${ZWSP}`, "<");
      i = found.index + run.length;
      continue;
    }
    if (ch === "<") {
      const own = OWN_HTML.map((p) => p.exec(rest)).find((m) => m);
      if (own) {
        out += own[0];
        i += own[0].length;
        continue;
      }
      if (/^<[A-Za-z/!?]/.test(rest)) problems.push(`raw HTML ${JSON.stringify(rest.slice(0, 12))} on ${where}`);
    }
    if (ch === "[") {
      const own = OWN_BRACKETS.map((p) => p.exec(rest)).find((m) => m);
      if (own) {
        out += own[0];
        i += own[0].length;
        continue;
      }
      problems.push(`a link bracket ${JSON.stringify(rest.slice(0, 16))} on ${where}`);
    }
    const angle = /^&(lt|gt);/.exec(rest);
    if (angle) {
      // How amiroll writes `<` and `>` in text.
      out += angle[1] === "lt" ? "<" : ">";
      i += angle[0].length;
      continue;
    }
    if (ch === "&" && /^&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);/.test(rest)) problems.push(`an entity ${JSON.stringify(rest.slice(0, 8))} on ${where}`);
    if (ch === ":" && rest.startsWith("://") && /[A-Za-z]$/.test(text.slice(0, i))) problems.push(`an autolink ${JSON.stringify(text.slice(Math.max(0, i - 5), i + 12))} on ${where}`);
    if (/^www\./i.test(rest) && !/[A-Za-z0-9]$/.test(text.slice(0, i))) problems.push(`an autolink www. on ${where}`);
    out += ch;
    i++;
  }
  return out;
}

/** What a reader sees of untrusted `text` once amiroll has made it inert: controls as escapes. */
export function visibleText(text: string): string {
  const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    return named[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`);
  });
}

/**
 * core/inert.ts: untrusted text made inert per context (issue 16, item 7). What each function
 * guarantees, against GFM's rules, and that the text stays readable.
 */
import { codeLine, codeSpan, htmlText, jsonSafe, markdownText, tableCode, terminalLine, terminalSafe, visibleEscape } from "../../scripts/core/inert";
import { ALL_HOSTILE, HOSTILE, RAW_CONTROL } from "../support/hostile";
import { inspectMarkdown, visibleText } from "../support/markdown";

describe("terminalSafe and terminalLine", () => {
  it("show ESC, BEL, CR, DEL and the C1 controls as escapes, so nothing can draw on the terminal", () => {
    expect(terminalSafe(HOSTILE.terminal)).toBe("\\x1b]0;pwned\\x07\\x1b[2J");
    expect(terminalSafe(HOSTILE.c1)).toBe("\\x9b31mred");
    expect(terminalSafe(HOSTILE.cr)).toBe("ok\\rFAKE");
    expect(terminalSafe("a\x7fb\x00c")).toBe("a\\x7fb\\x00c");
    expect(terminalSafe("right-to-left \u202eevil")).toBe("right-to-left \\u202eevil");
    expect(terminalSafe(ALL_HOSTILE)).not.toMatch(RAW_CONTROL);
  });

  it("keep newline and tab in terminalSafe; terminalLine shows the newline too", () => {
    expect(terminalSafe("two\nlines\tand a tab")).toBe("two\nlines\tand a tab");
    expect(terminalLine("two\nlines\tand a tab")).toBe("two\\nlines\tand a tab");
    expect(terminalLine(ALL_HOSTILE)).not.toContain("\n");
  });

  it("leave ordinary text, Unicode included, as it is", () => {
    const text = "staging/apps · ami-0123 → äöü 日本 ✅ | <b> `x`";
    expect(terminalSafe(text)).toBe(text);
    expect(terminalLine(text)).toBe(text);
  });

  it("escape each character one way (\\xHH below U+0100, \\uHHHH above, \\n \\r \\t by name)", () => {
    expect(["\x1b", "\x9b", "\u2028", "\n", "\r", "\t"].map(visibleEscape)).toEqual(["\\x1b", "\\x9b", "\\u2028", "\\n", "\\r", "\\t"]);
  });
});

describe("markdownText", () => {
  it.each(Object.entries(HOSTILE))("renders %s as its own text, nothing live", (_name, text) => {
    const md = markdownText(text);
    expect(md).not.toContain("\n");
    expect(md).not.toMatch(RAW_CONTROL);
    expect(md).not.toMatch(/<|>/);
    const { problems, text: shown } = inspectMarkdown(`| a |\n|---|\n| ${md} |\n\nprose ${md}`);
    expect(problems).toEqual([]);
    expect(shown).toContain(`| ${visibleText(text).trim()} |`);
    expect(shown).toContain(`prose ${visibleText(text)}`);
  });

  it("escapes links, code, HTML, entities, emphasis, math and pipes; breaks bare URLs", () => {
    expect(markdownText("[approve](https://evil)")).toBe("\\[approve\\](https\\://evil)");
    expect(markdownText("<img src=x>")).toBe("&lt;img src=x&gt;");
    expect(markdownText("a`b`c")).toBe("a\\`b\\`c");
    expect(markdownText("&amp; *x* ~y~ $z$ a|b \\")).toBe("\\&amp; \\*x\\* \\~y\\~ \\$z\\$ a\\|b \\\\");
    expect(markdownText("see www.evil.example")).toBe("see www\\.evil.example");
  });

  it("leaves what cannot open markup alone, so amiroll's usual text reads as before", () => {
    for (const text of ["terraform_data.asg", "staging/apps", "ami-0c8e1f5b2a9d47e31", "al2023-ami-ecs-hvm-2023.0.20261105-kernel-6.1-arm64", "replaced create-before-destroy: the new group"]) {
      expect(markdownText(text)).toBe(text);
    }
    // Only where it could open or close emphasis is an underscore escaped.
    expect(markdownText("_x_ a_b")).toBe("\\_x\\_ a_b");
  });
});

describe("codeSpan and tableCode", () => {
  it("fence with more backticks than the longest run inside, padded where a backtick touches the fence", () => {
    expect(codeSpan("ami-0123")).toBe("`ami-0123`");
    expect(codeSpan("a`b")).toBe("``a`b``");
    expect(codeSpan("x``` y")).toBe("````x``` y````");
    expect(codeSpan("`tick")).toBe("`` `tick ``");
    expect(codeSpan(" both ")).toBe("`  both  `");
    expect(codeSpan("")).toBe("` `");
  });

  it("break every `<` that could open HTML, a comment or an autolink (GFM lets those win over a span)", () => {
    expect(codeSpan(HOSTILE.marker)).toBe("`<\u200b!-- amiroll:plan env=production part=1/1 -->`");
    expect(codeSpan("a < b")).toBe("`a < b`");
    expect(codeSpan(HOSTILE.details)).not.toMatch(/<[a-z/]/);
  });

  it("keep one line, controls visible", () => {
    expect(codeSpan(HOSTILE.fence)).toBe("````x\\n```\\n# forged heading````");
    expect(codeSpan(HOSTILE.terminal)).toBe("`\\x1b]0;pwned\\x07\\x1b[2J`");
  });

  it("escape `|` only in a table cell (elsewhere the backslash would show)", () => {
    expect(codeSpan("a|b")).toBe("`a|b`");
    expect(tableCode("a|b")).toBe("`a\\|b`");
  });

  it.each(Object.entries(HOSTILE))("show %s as its text, in a table and out", (_name, text) => {
    const { problems, text: shown } = inspectMarkdown(`| a | b |\n|---|---|\n| ${tableCode(text)} | x |\n\nprose ${codeSpan(text)} end`);
    expect(problems).toEqual([]);
    expect(shown).toContain(`| ${visibleText(text).trim()} | x |`);
    expect(shown).toContain(`prose ${visibleText(text)} end`);
  });
});

describe("codeLine, htmlText, jsonSafe", () => {
  it("codeLine keeps a code block's line one line, and no comment opener in it", () => {
    expect(codeLine(HOSTILE.fence)).toBe("x\\n```\\n# forged heading");
    expect(codeLine(HOSTILE.marker)).not.toContain("<!--");
    const { problems, text } = inspectMarkdown(["```diff", `+ ${codeLine(ALL_HOSTILE)}`, "```"].join("\n"));
    expect(problems).toEqual([]);
    expect(text).toBe(`+ ${visibleText(ALL_HOSTILE)}`);
  });

  it("htmlText makes every HTML and markdown metacharacter an entity", () => {
    expect(htmlText(`</details><script>"x" 'y' & [a](b) \`c\` |`)).toBe(
      "&#60;/details&#62;&#60;script&#62;&#34;x&#34; &#39;y&#39; &#38; &#91;a&#93;(b) &#96;c&#96; &#124;",
    );
    expect(htmlText(HOSTILE.terminal)).not.toMatch(RAW_CONTROL);
  });

  it("jsonSafe escapes DEL, the C1 controls and the bidi controls, and is the same JSON value", () => {
    const value = { text: ALL_HOSTILE, "key\u009b": ["\u202e", "\u2028"] };
    const json = jsonSafe(JSON.stringify(value, null, 2));
    expect(json).not.toMatch(RAW_CONTROL);
    expect(json).not.toMatch(/[\u2028\u202e]/);
    expect(json).toContain("\\u009b");
    expect(JSON.parse(json)).toEqual(value);
  });
});

describe("the markdown reader these tests use (test/support/markdown.ts)", () => {
  it("catches what the comment wrote before: a code span closed by a backtick, raw HTML, a live link, a forged marker, a split row, a closed fence", () => {
    const key = `aws_launch_template.lt["${HOSTILE.backtick} ${HOSTILE.link} ${HOSTILE.marker} ${HOSTILE.pipe}"]`;
    const before = [
      "<!-- amiroll:plan env=staging part=1/1 -->",
      "| Resource | Action | Verdict |",
      "|---|---|---|",
      `| \`${key}\` | create | ok |`,
      "",
      `| apps | ${HOSTILE.details} |`,
      "",
      "<details><summary>Attribute diff (1 resource)</summary>",
      "",
      "```diff",
      `# ${HOSTILE.fence}`,
      "```",
      "</details>",
    ].join("\n");
    const { problems } = inspectMarkdown(before);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^raw HTML "<img/),
        expect.stringMatching(/^a link bracket "\[approve\]/),
        expect.stringMatching(/^a table row of \d+ cells under a header of 3/),
        expect.stringMatching(/^raw HTML "<script>/),
        expect.stringMatching(/^raw HTML "<\/details>/),
        "a code fence left open",
        '2 "<!--" in the body',
      ]),
    );
  });
});

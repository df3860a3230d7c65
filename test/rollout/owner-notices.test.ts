/**
 * The notice per owner (issue 21, item 5): one markdown file per `owner` tag with a safe name,
 * and one Slack message per owner whose untrusted text is inert (Slack's &, <, > escaping).
 */
import type { Environment } from "../../scripts/config/environments";
import { readPins } from "../../scripts/config/pins";
import type { FleetSnapshot } from "../../scripts/fleet/snapshot";
import { ownerFileNames, ownerNotices, slackText } from "../../scripts/rollout/owner-notices";
import { ALL_HOSTILE, HOSTILE, RAW_CONTROL } from "../support/hostile";
import { inspectMarkdown } from "../support/markdown";
import { REPO_PINS_FILE, REPO_PINS_PATH, loadEnvironments } from "../support/repo-config";

const environments = loadEnvironments();
const pins = readPins(REPO_PINS_PATH, environments, REPO_PINS_FILE);
const now = Date.parse("2026-11-24T08:00:00Z");

function fleetOf(services: { name: string; owner?: string; desiredCount?: number }[]): FleetSnapshot {
  return {
    containerInstances: [{ imageId: "ami-0aaaaaaaaaaaaaaa1" }],
    services: services.map((s) => ({ name: s.name, desiredCount: s.desiredCount ?? 2, schedulingStrategy: "REPLICA", tags: s.owner === undefined ? {} : { owner: s.owner } })),
  } as unknown as FleetSnapshot;
}

describe("ownerFileNames", () => {
  it("keeps a plain tag as it is and the untagged services apart", () => {
    expect([...ownerFileNames(["storefront", "payments-team", undefined]).values()]).toEqual(["storefront.md", "payments-team.md", "no-owner-tag.md"]);
  });

  it.each([
    ["a path", "../../etc/passwd"],
    ["an absolute path", "/etc/cron.d/x"],
    ["a Windows path", "..\\..\\windows\\system32"],
    ["a dot", "."],
    ["two dots", ".."],
    ["a hidden file", ".bashrc"],
    ["control characters", `team${HOSTILE.terminal}\n`],
    ["a device name", "CON"],
    ["a lower-case device name", "nul"],
    ["nothing safe", "💥"],
    ["every hostile string", ALL_HOSTILE],
    ["a very long tag", "x".repeat(5000)],
  ])("%s: one plain file name in the directory, with the tag's hash", (_what, owner) => {
    const name = ownerFileNames([owner]).get(owner)!;
    expect(name).toMatch(/^[a-z0-9_][a-z0-9._-]{0,63}-[0-9a-f]{12}\.md$/);
    expect(name).not.toContain("..");
  });

  it("never puts two owners in one file, whatever the case or the characters", () => {
    const owners = ["Team", "team", "TEAM", "team a", "team-a", "team/a", "team-3ba3fe2d3df9", "", " ", "no-owner-tag", undefined];
    const names = [...ownerFileNames(owners).values()];
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(owners.length);
    // A plain tag that another tag would also be named after gets its hash too: neither takes the
    // plain name, so a crafted tag cannot take another owner's file.
    expect(ownerFileNames(owners).get("team-a")).toMatch(/^team-a-[0-9a-f]{12}\.md$/);
    expect(ownerFileNames(["team-a", "payments"]).get("team-a")).toBe("team-a.md");
  });
});

describe("ownerNotices", () => {
  const fleets = new Map(environments.flatMap((e) => e.clusters.map((c) => [`${e.name}/${c.name}`, fleetOf([
    { name: "web", owner: "storefront" },
    { name: "checkout", owner: "payments" },
    { name: "batch", owner: "payments", desiredCount: 0 },
    { name: "legacy" },
  ])] as const)));
  const notices = ownerNotices({ waves: environments, environments, pins, fleets, now });

  it("one per owner, each with its own services only", () => {
    expect(notices.map((n) => [n.owner, n.fileName])).toEqual([[undefined, "no-owner-tag.md"], ["payments", "payments.md"], ["storefront", "storefront.md"]]);
    const payments = notices.find((n) => n.owner === "payments")!;
    expect(payments.markdown).toContain("### Maintenance notice: machine image rollout, for services owned by payments");
    expect(payments.markdown).toMatch(/\| apps \| ami-\w+ \| replace \| checkout \|/);
    expect(payments.markdown).not.toMatch(/web|legacy|batch/);
    expect(payments.text).toMatch(/^\*Maintenance notice: machine image rollout\*, for services owned by payments\n/);
    expect(payments.text).toMatch(/\n\*staging\*: any time \(no maintenance window configured\)\n• apps → ami-\w+ \(replace\): checkout\n/);
    expect(payments.text).toMatch(/\n\*production\*: Tue 24 Nov 2026 09:00 GMT \(Europe\/London\) \(window Tue 09:00-11:00 Europe\/London\)\n• apps → ami-\w+ \(once staging has verified it\) \(blue-green\): checkout$/);
    expect(notices.find((n) => n.owner === undefined)!.text).toContain("for services without an owner tag");
  });

  describe("with hostile owner tags, service names and holds", () => {
    const held: Environment[] = environments.map((e) => ({ ...e, hold: `frozen ${ALL_HOSTILE} <!channel> <@U123> <https://evil.example|click>` }));
    const hostileFleets = new Map(held.flatMap((e) => e.clusters.map((c) => [`${e.name}/${c.name}`, fleetOf([
      { name: `web${HOSTILE.details}`, owner: `team ${HOSTILE.marker} ${HOSTILE.pipe} <!here>` },
      { name: `api https://evil.example www.evil.example`, owner: "../../x" },
    ])] as const)));
    const hostile = ownerNotices({ waves: held, environments: held, pins, fleets: hostileFleets, now });

    it("markdown: nothing live, every table row whole", () => {
      for (const n of hostile) {
        const { problems } = inspectMarkdown(n.markdown);
        expect(problems).toEqual([]);
        expect(n.markdown).not.toMatch(/<!--|<img|<script|<\/details>|<!here>/);
        expect(n.markdown).not.toMatch(RAW_CONTROL);
      }
    });

    it("Slack: no raw <, > or & of the text, no control character, no bare URL", () => {
      for (const n of hostile) {
        // Every & starts one of Slack's three escapes; no < or > is left to open a link, mention or <!channel>.
        expect(n.text).not.toMatch(/[<>]|&(?!amp;|lt;|gt;)/);
        expect(n.text).not.toMatch(RAW_CONTROL);
        expect(n.text).not.toMatch(/:\/\/|(^|\W)www\./);
      }
      const team = hostile.find((n) => n.owner?.startsWith("team"))!;
      expect(team.text).toContain("for services owned by team &lt;!-- amiroll:plan env=production part=1/1 --&gt; left | right &lt;!here&gt;");
      expect(team.text).toContain("the environment: frozen ");
      expect(team.text).toContain("&lt;@U123&gt; &lt;https:\u200b//evil.example|click&gt;");
    });
  });
});

describe("slackText", () => {
  it.each([
    ["a&b", "a&amp;b"],
    ["<!channel>", "&lt;!channel&gt;"],
    ["&lt;", "&amp;lt;"],
    ["line\nbreak", "line\\nbreak"],
    [HOSTILE.terminal, "\\x1b]0;pwned\\x07\\x1b[2J"],
    ["see https://x.example or www.x.example", "see https:\u200b//x.example or www\u200b.x.example"],
  ])("%j -> %j", (text, expected) => {
    expect(slackText(text)).toBe(expected);
  });
});

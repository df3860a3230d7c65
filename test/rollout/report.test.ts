/**
 * The rollout's notice and report quote the config, the pins and AWS (hold reasons, image ids,
 * service names, owner tags, gate details): inert in markdown, one line with visible controls
 * on the terminal (issue 16, item 7).
 */
import type { Environment } from "../../scripts/config/environments";
import { readPins } from "../../scripts/config/pins";
import type { BalanceReport } from "../../scripts/fleet/balance";
import type { FleetSnapshot } from "../../scripts/fleet/snapshot";
import { rolloutNotice } from "../../scripts/rollout/notice";
import { rolloutMarkdown, rolloutText } from "../../scripts/rollout/report";
import type { RolloutResult, WaveReport } from "../../scripts/rollout/rollout";
import { ALL_HOSTILE, HOSTILE, RAW_CONTROL } from "../support/hostile";
import { inspectMarkdown, visibleText } from "../support/markdown";
import { REPO_PINS_FILE, REPO_PINS_PATH, loadEnvironments } from "../support/repo-config";

const environments = loadEnvironments();
const pins = readPins(REPO_PINS_PATH, environments, REPO_PINS_FILE);

describe("the maintenance notice", () => {
  // Holds are free text in the config; image ids, service names and owner tags come from AWS.
  const held: Environment[] = environments.map((e) => ({
    ...e,
    hold: `${e.name} frozen ${ALL_HOSTILE}`,
    clusters: e.clusters.map((c) => ({ ...c, hold: HOSTILE.link })),
  }));
  const fleet = {
    containerInstances: [{ imageId: `ami-0aaaaaaaaaaaaaaa1${HOSTILE.backtick}` }, { imageId: `ami-0ccc${HOSTILE.terminal}` }],
    services: [
      { name: `web${HOSTILE.details}`, desiredCount: 2, schedulingStrategy: "REPLICA", tags: { owner: `team ${HOSTILE.marker} ${HOSTILE.pipe}` } },
      { name: `api${HOSTILE.img}`, desiredCount: 1, schedulingStrategy: "REPLICA", tags: {} },
    ],
  } as unknown as FleetSnapshot;
  const fleets = new Map(held.flatMap((e) => e.clusters.map((c) => [`${e.name}/${c.name}`, fleet] as const)));
  const notice = rolloutNotice({ waves: held, environments: held, pins, fleets, now: Date.parse("2026-11-24T08:00:00Z") });

  it("renders holds, images, services and owners as text: nothing live, every table row whole", () => {
    const { problems, text } = inspectMarkdown(notice);
    expect(problems).toEqual([]);
    expect(notice).not.toMatch(/<!--|<img|<script|<\/details>/);
    expect(notice).not.toMatch(RAW_CONTROL);
    expect(text).toContain(`staging frozen ${visibleText(ALL_HOSTILE)}`);
    expect(text).toContain(`apps: ${HOSTILE.link}`);
    expect(text).toContain(`| team ${HOSTILE.marker} ${HOSTILE.pipe} | apps/web${HOSTILE.details} |`);
    expect(text).toContain(`ami-0aaaaaaaaaaaaaaa1${HOSTILE.backtick}, ami-0ccc${visibleText(HOSTILE.terminal)}`);
  });
});

describe("the rollout report", () => {
  const balance: BalanceReport = {
    at: 0,
    clusterName: "staging-apps",
    zones: ["eu-west-1a"],
    services: [],
    imbalanced: [`web${HOSTILE.marker}`],
    balanced: false,
    lostZones: [`eu-west-1b${HOSTILE.terminal}`],
    withoutLostZones: [`api${HOSTILE.link}`],
  };
  const wave: WaveReport = {
    environment: "staging",
    targets: { [`apps${HOSTILE.pipe}`]: `ami-0bbb${HOSTILE.backtick}` },
    strategies: { [`apps${HOSTILE.pipe}`]: "replace" },
    outcome: "rolled back",
    reason: `smoke check failed: ${ALL_HOSTILE}`,
    startedAt: 0,
    endedAt: 600_000,
    phases: [{ step: `apply${HOSTILE.cr}`, ms: 60_000 }],
    instancesReplaced: 2,
    tasksMoved: 4,
    gates: [{ gate: "smoke", outcome: "failed", detail: `GET https://app.example/health said ${HOSTILE.details} ${HOSTILE.terminal}` } as WaveReport["gates"][number]],
    balance: new Map([[`apps${HOSTILE.pipe}`, balance]]),
    pinChanges: [[`  "imageId": "ami-0aaa"`, `- "imageName": "${HOSTILE.fence}"`, `+ "imageName": "${HOSTILE.marker}"`]],
    bootFailures: [{ instanceId: `i-0abc${HOSTILE.terminal}`, groupName: "staging-apps-ami-0bbb", availabilityZone: `eu-west-1a${HOSTILE.pipe}`, imageId: "ami-0bbb", launchedAt: 0, waitedMs: 310_000 }],
    backups: [`/srv/backups${HOSTILE.details}/staging/20261124T080000000Z-serial00000007.tfstate${HOSTILE.terminal}`],
  };
  const result: RolloutResult = { outcome: "rolled back", waves: [wave], startedAt: 0, endedAt: 600_000 };

  it("as markdown: reasons, gate details, names and the pins diff are inert", () => {
    const markdown = rolloutMarkdown(result);
    const { problems, text } = inspectMarkdown(markdown);
    expect(problems).toEqual([]);
    expect(markdown).not.toMatch(/<!--|<img|<script|<\/details>/);
    expect(markdown).not.toMatch(RAW_CONTROL);
    expect(text).toContain(`> smoke check failed: ${visibleText(ALL_HOSTILE)}`);
    expect(text).toContain(`said ${HOSTILE.details} ${visibleText(HOSTILE.terminal)} |`);
    // The pins diff stays in its code block: the fence in an image name closes nothing.
    expect(text).toContain(`-"imageName": "${visibleText(HOSTILE.fence)}"`);
    // The backup's path (the config's directory) is named, as text.
    expect(text).toContain(`**State backed up before each apply:** /srv/backups${HOSTILE.details}/staging/20261124T080000000Z-serial00000007.tfstate${visibleText(HOSTILE.terminal)}`);
  });

  it("as text: one line per fact, every control of theirs visible", () => {
    const lines = rolloutText(result);
    const text = lines.join("\n");
    expect(text).not.toMatch(RAW_CONTROL);
    for (const line of lines) expect(line).not.toContain("\n");
    expect(lines[1]).toBe(`staging: rolled back (smoke check failed: ${visibleText(ALL_HOSTILE)})`);
    expect(text).toContain(`took 10m00s: applyok\\rFAKE 1m00s`);
    expect(text).toContain(`eu-west-1b${visibleText(HOSTILE.terminal)}`);
    expect(lines).toContainEqual(`  state backed up before an apply: /srv/backups${HOSTILE.details}/staging/20261124T080000000Z-serial00000007.tfstate${visibleText(HOSTILE.terminal)}`);
    expect(lines).toContainEqual(`  did not boot, replaced: i-0abc${visibleText(HOSTILE.terminal)} (eu-west-1a${visibleText(HOSTILE.pipe)}, not registered with ECS 5m10s after launch)`);
  });
});

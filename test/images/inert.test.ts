/**
 * Text from SSM, EC2, the pins and the config is inert in what `bump` and `status` write
 * (issue 16, item 7): the bump PR's title and markdown body, and status's table, TSV,
 * Prometheus text and JSON.
 */
import type { BumpPlan, ClusterBump } from "../../scripts/images/bump";
import { bumpPullRequest } from "../../scripts/images/pull-request";
import type { ClusterStatus } from "../../scripts/images/status";
import { type FleetStatus, TSV_COLUMNS, statusJson, statusProm, statusTable, statusTsv } from "../../scripts/images/status-report";
import { ALL_HOSTILE, HOSTILE, RAW_CONTROL } from "../support/hostile";
import { inspectMarkdown, visibleText } from "../support/markdown";
import { loadEnvironments } from "../support/repo-config";

const environments = loadEnvironments();
const NAME = `al2023-ami-ecs-hvm-2023.0.20261105-kernel-6.1-arm64 ${ALL_HOSTILE}`;

function change(source: ClusterBump["source"]): ClusterBump {
  return {
    environment: "staging",
    cluster: "apps",
    strategy: "replace",
    from: { imageId: "ami-0aaaaaaaaaaaaaaa1", imageName: `old ${HOSTILE.details}` },
    to: { imageId: `ami-0bbbbbbbbbbbbbbb2${HOSTILE.backtick}`, imageName: NAME, ssmParameter: HOSTILE.marker },
    image: { imageId: "ami-0bbbbbbbbbbbbbbb2", name: NAME, state: "available", createdAt: `${HOSTILE.link}2026-11-05` },
    source,
    agentVersion: `1.98.0 ${HOSTILE.img}`,
  };
}

describe("the bump pull request", () => {
  const plan: BumpPlan = {
    changes: [
      change({ kind: "ssm", parameter: `/aws/service/ecs/${HOSTILE.backtick}|${HOSTILE.marker}` }),
      { ...change({ kind: "promoted", from: `staging ${HOSTILE.link}`, pin: { imageId: "ami-0bbbbbbbbbbbbbbb2", verifiedAt: HOSTILE.details } }), environment: "production", strategy: "blue-green" },
    ],
    skipped: [{ environment: "production", cluster: `web${HOSTILE.pipe}`, reason: ALL_HOSTILE }],
    upToDate: [],
    pins: {},
  };
  const pr = bumpPullRequest(plan, environments);

  it("has a body where image names, ids, parameters and reasons are text, nothing live", () => {
    const { problems, text } = inspectMarkdown(pr.body);
    expect(problems).toEqual([]);
    expect(pr.body).not.toMatch(/<!--|<img|<script|<\/details>/);
    expect(pr.body).not.toMatch(RAW_CONTROL);
    // (inspectMarkdown also checks that every row keeps its table's seven columns.)
    expect(text.split("\n").filter((l) => l.startsWith("| staging/apps") || l.startsWith("| production/apps"))).toHaveLength(2);
    // Readable: what SSM and EC2 said, as they said it.
    expect(text).toContain(`| staging/apps | replace | ami-0aaaaaaaaaaaaaaa1<br>old ${HOSTILE.details} | ami-0bbbbbbbbbbbbbbb2${HOSTILE.backtick}<br>${visibleText(NAME)} |`);
    expect(text).toContain(`SSM /aws/service/ecs/${HOSTILE.backtick}|${HOSTILE.marker}`);
    expect(text).toContain(`verified in staging ${HOSTILE.link} (${HOSTILE.details})`);
    expect(text).toContain(`- production/web${HOSTILE.pipe}: ${visibleText(ALL_HOSTILE)}`);
  });

  it("has a title of one line with no control character", () => {
    expect(pr.title).not.toMatch(RAW_CONTROL);
    expect(pr.title).not.toContain("\n");
    expect(pr.title).toContain("\\x1b]0;pwned");
  });
});

describe("status", () => {
  const image = (imageId: string) => ({ imageId, name: NAME, releasedAt: "2026-11-05T00:00:00Z", ageDays: 19, state: `available${HOSTILE.c1}` });
  const cluster: ClusterStatus = {
    environment: "production",
    cluster: `apps${HOSTILE.cr}`,
    ecsClusterName: "production-apps",
    strategy: "blue-green",
    pinned: image("ami-0aaaaaaaaaaaaaaa1"),
    latest: { ...image(`ami-0bbbbbbbbbbbbbbb2${HOSTILE.terminal}`), parameter: HOSTILE.marker, agentVersion: HOSTILE.terminal, releaseNotes: `https://evil.example/${HOSTILE.terminal}` },
    instances: [{ ...image("ami-0aaaaaaaaaaaaaaa1"), instances: 4, draining: 0, outdated: true, role: "pinned" }],
    total: 4,
    outdated: 4,
    outdatedRatio: 1,
    holds: [`production: ${HOSTILE.fence} ${HOSTILE.terminal}`],
    window: { state: "any time" },
    warnings: [`the pinned image is ${HOSTILE.c1} deregistered ${HOSTILE.terminal}`],
  };
  const status: FleetStatus = { at: Date.parse("2026-11-24T08:00:00Z"), clusters: [cluster] };

  it("table: no control character, one row per cluster, the text readable", () => {
    const table = statusTable(status);
    expect(table).not.toMatch(RAW_CONTROL);
    const lines = table.split("\n");
    // Header, one row, then the Images section: a CR or newline in a name forges no row.
    expect(lines[2]).toBe("");
    expect(lines[1]).toContain("appsok\\rFAKE");
    expect(table).toContain(`ami-0bbbbbbbbbbbbbbb2${visibleText(HOSTILE.terminal)}`);
    // A hold's newlines read as spaces (as before); its other controls as escapes.
    expect(table).toContain(`  production: x \`\`\` # forged heading ${visibleText(HOSTILE.terminal)}`);
    expect(table).toContain(`Warnings:\n  production/appsok\\rFAKE: the pinned image is \\x9b31mred deregistered ${visibleText(HOSTILE.terminal)}`);
  });

  it("TSV: one line per cluster, every field present, no control character", () => {
    const lines = statusTsv(status).replace(/\n$/, "").split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[1].split("\t")).toHaveLength(TSV_COLUMNS.length);
    expect(lines[1]).not.toMatch(RAW_CONTROL);
    expect(lines[1]).toContain(visibleText(HOSTILE.terminal));
  });

  it("Prometheus: label values escaped as the format says, no control character", () => {
    const prom = statusProm(status);
    expect(prom).not.toMatch(RAW_CONTROL);
    const sample = prom.split("\n").find((l) => l.startsWith("amiroll_latest_release_timestamp_seconds{"))!;
    // Each label value a quoted string whose escapes are \\, \" and \n only.
    expect(sample).toMatch(/^amiroll_latest_release_timestamp_seconds\{(?:[a-z]+="(?:[^"\\\n]|\\[\\"n])*",?)+\} \d+$/);
    expect(sample).toContain('ami="ami-0bbbbbbbbbbbbbbb2\\\\x1b]0;pwned\\\\x07\\\\x1b[2J"');
  });

  it("JSON: valid whatever the names hold, the same values, no raw control character", () => {
    const json = statusJson(status);
    expect(json).not.toMatch(RAW_CONTROL);
    const parsed = JSON.parse(json);
    expect(parsed.clusters[0].cluster).toBe(cluster.cluster);
    expect(parsed.clusters[0].latest.name).toBe(NAME);
    expect(parsed.clusters[0].pinned.state).toBe(`available${HOSTILE.c1}`);
  });
});

/**
 * `notices.webhook` (issue 21, item 5): an https URL, or exit 2 in one line naming the field
 * (or AMIROLL_NOTICE_WEBHOOK), checked when the config is loaded; messages name the host only.
 */
import Ajv from "ajv";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../../scripts/config/file";
import { ConfigError } from "../../scripts/config/input";
import { UsageError } from "../../scripts/core/errors";
import { thrown } from "../support/fixtures";
import { REPO_CONFIG_PATH } from "../support/repo-config";

const REPO_CONFIG = JSON.parse(readFileSync(REPO_CONFIG_PATH, "utf8"));
const SCHEMA = JSON.parse(readFileSync(join(__dirname, "../../amiroll.schema.json"), "utf8"));
const HOOK = "https://hooks.slack.com/services/T000/B000/XXXXSECRET";
const load = (notices: unknown, env: NodeJS.ProcessEnv = {}) => parseConfig({ ...REPO_CONFIG, notices }, "/repo/amiroll.json", { env, cwd: "/repo" });

describe("notices.webhook", () => {
  it("an https URL: kept, shown by its host", () => {
    expect(load({ webhook: HOOK }).notices).toEqual({ webhook: HOOK, shownAs: "notices.webhook (hooks.slack.com)" });
    expect(load({}).notices).toBeUndefined();
    expect(parseConfig(REPO_CONFIG, "/repo/amiroll.json", { env: {} }).notices).toBeUndefined();
  });

  it("AMIROLL_NOTICE_WEBHOOK overrides it (the URL is a secret: CI keeps it in the environment)", () => {
    expect(load(undefined, { AMIROLL_NOTICE_WEBHOOK: HOOK }).notices).toEqual({ webhook: HOOK, shownAs: "AMIROLL_NOTICE_WEBHOOK (hooks.slack.com)" });
    expect(load({ webhook: "https://other.example/x" }, { AMIROLL_NOTICE_WEBHOOK: HOOK }).notices!.webhook).toBe(HOOK);
  });

  it.each([
    ["http", "http://hooks.example/services/SECRET", /^amiroll\.json: notices\.webhook: is not an https URL \("http:" to host "hooks\.example"\): the webhook must be https/],
    ["a file URL", "file:///etc/passwd", /^amiroll\.json: notices\.webhook: is not an https URL \("file:" to host ""\)/],
    ["not a URL", "hooks.slack.com/services/SECRET", /^amiroll\.json: notices\.webhook: is not a URL/],
    ["empty", "", /^amiroll\.json: notices\.webhook: expected a non-empty string/],
  ])("%s: refused naming the field, never the path", (_what, webhook, message) => {
    const error = thrown(() => load({ webhook }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain("SECRET");
    expect(error.message).not.toContain("\n");
  });

  it("a typo in notices is refused; AMIROLL_NOTICE_WEBHOOK that is not https is refused naming it", () => {
    expect(thrown(() => load({ webhok: HOOK })).message).toMatch(/^amiroll\.json: notices\.webhok: unknown field \(known: webhook\)$/);
    const error = thrown(() => load({ webhook: HOOK }, { AMIROLL_NOTICE_WEBHOOK: "http://127.0.0.1:8080/SECRET" }));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toMatch(/^AMIROLL_NOTICE_WEBHOOK: is not an https URL \("http:" to host "127\.0\.0\.1:8080"\)/);
    expect(error.message).not.toContain("SECRET");
  });

  it("the schema says what the loader says", () => {
    const validate = new Ajv({ allErrors: true, strict: true, strictTypes: false }).compile(SCHEMA);
    expect(validate({ ...REPO_CONFIG, notices: { webhook: HOOK } }) ? [] : validate.errors).toEqual([]);
    expect(validate({ ...REPO_CONFIG, notices: { webhook: "http://hooks.example/x" } })).toBe(false);
    expect(validate({ ...REPO_CONFIG, notices: { webhok: HOOK } })).toBe(false);
    expect(Object.keys(SCHEMA.properties.notices.properties)).toEqual(["webhook"]);
  });
});

/**
 * `amiroll guard --plan-json FILE`: judges a saved `terraform show -json` plan, offline.
 * Exit 0 when accepted, 3 when refused, 2 when the file is not a usable plan.
 */
import { Command, Option } from "commander";
import { guardMarkdown } from "../terraform/comment";
import { guardJson, guardPlan, guardText } from "../terraform/guard";
import { readPlanFile } from "../terraform/plan";
import { EXIT, Exit, logFormatOption } from "./common";
import { type GuardFlags, withGuardOptions } from "./guard-flags";

interface GuardOptions extends GuardFlags {
  readonly planJson: string;
  readonly output: "text" | "json" | "markdown";
}

export function guardCommand(): Command {
  const command = new Command("guard")
    .description("judge a plan (terraform show -json output) against the expected roll, offline (exit 3 if refused)")
    .requiredOption("--plan-json <file>", "the plan as JSON: terraform show -json PLANFILE > plan.json")
    .addOption(new Option("-o, --output <format>", "how to print the verdict").choices(["text", "json", "markdown"]).default("text"))
    .addOption(logFormatOption());
  return withGuardOptions(command).action((options: GuardOptions) => {
    const result = guardPlan(readPlanFile(options.planJson), { expect: options.expect, allow: options.allow });
    const print = { text: guardText, json: guardJson, markdown: guardMarkdown }[options.output];
    console.log(print(result));
    if (!result.accepted) throw new Exit(EXIT.guardRefused);
  });
}

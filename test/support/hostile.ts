/**
 * Hostile text, as a plan, AWS, SSM or a pins file could carry it, and a plan JSON full of it:
 * what the "untrusted text is inert" tests feed every sink (issue 16, item 7).
 */

/** Each hostile string on its own, named for the failure messages. */
export const HOSTILE = {
  /** Closes a code span, then renders an image with a handler. */
  backtick: "a`<img src=x onerror=alert(1)>`b",
  img: "<img src=x onerror=alert(1)>",
  /** A live link whose words hide where it goes. */
  link: "[approve](https://evil.example/approve)",
  /** The sticky comment marker of another environment. */
  marker: "<!-- amiroll:plan env=production part=1/1 -->",
  /** Closes the diff's <details> and starts a script. */
  details: "</details><script>alert(1)</script>",
  /** Splits a table row. */
  pipe: "left | right",
  /** A newline, a code fence and a heading: ends a code block or a table row. */
  fence: "x\n```\n# forged heading",
  /** OSC 0 (retitles the terminal, ended by BEL), then CSI 2J (clears it). */
  terminal: "\x1b]0;pwned\x07\x1b[2J",
  /** The 8-bit CSI (U+009B): a C1 control some terminals obey. */
  c1: "\u009b31mred",
  /** A carriage return: overwrites the start of the line on a terminal. */
  cr: "ok\rFAKE",
} as const;

/** Every hostile string in one, for a single field. */
export const ALL_HOSTILE = Object.values(HOSTILE).join(" ");

/** C0 controls but tab and newline, DEL, and the C1 controls: none may reach a terminal raw. */
export const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/**
 * A plan (terraform show -json) of a replace roll of cluster `apps` where every string a reviewer
 * sees is hostile: the image names, a launch template's instance key and an attribute name, and
 * a refused change whose address carries every hostile string.
 */
export function hostilePlanJson(text: string = ALL_HOSTILE): Record<string, unknown> {
  const generation = (id: string) => ({ role: "current", image_id: id, image_name: `al2023-ami-ecs ${HOSTILE.details} ${text}`, asg_name: `staging-apps-${id}` });
  const clusters = (id: string) => ({ apps: { strategy: "replace", cluster_name: "staging-apps", generations: [generation(id)] } });
  const group = (id: string) => ({
    name: `staging-apps-${id}`,
    launch_template: [{ name: `lt-${id}`, version: "1" }],
    tag: [{ key: "amiroll:cluster", value: "apps", propagate_at_launch: true }],
  });
  return {
    format_version: "1.2",
    terraform_version: "1.9.0",
    planned_values: {},
    resource_changes: [
      {
        address: "aws_autoscaling_group.apps_asg",
        mode: "managed",
        type: "aws_autoscaling_group",
        name: "apps_asg",
        change: { actions: ["create", "delete"], before: group("ami-0aaaaaaaaaaaaaaa1"), after: group("ami-0bbbbbbbbbbbbbbb2"), replace_paths: [["name"]] },
      },
      {
        address: `aws_launch_template.apps_lt["${text}"]`,
        mode: "managed",
        type: "aws_launch_template",
        name: "apps_lt",
        change: {
          actions: ["create", "delete"],
          before: { name: "lt-ami-0aaaaaaaaaaaaaaa1", image_id: "ami-0aaaaaaaaaaaaaaa1", tags: { [text]: "old" } },
          after: { name: "lt-ami-0bbbbbbbbbbbbbbb2", image_id: "ami-0bbbbbbbbbbbbbbb2", tags: { [text]: text } },
        },
      },
      {
        address: `aws_ecs_cluster.apps_cluster["${text}"]`,
        mode: "managed",
        type: "aws_ecs_cluster",
        name: "apps_cluster",
        change: { actions: ["update"], before: { name: "staging-apps" }, after: { name: `staging-apps ${text}` } },
      },
    ],
    resource_drift: [
      { address: `aws_sqs_queue.apps_drain["${text}"]`, mode: "managed", type: "aws_sqs_queue", name: "apps_drain", change: { actions: ["update"], before: {}, after: {} } },
    ],
    output_changes: {
      amiroll_clusters: { actions: ["update"], before: clusters("ami-0aaaaaaaaaaaaaaa1"), after: clusters("ami-0bbbbbbbbbbbbbbb2"), after_unknown: false, before_sensitive: false, after_sensitive: false },
    },
    prior_state: { values: { outputs: { amiroll_clusters: { value: clusters("ami-0aaaaaaaaaaaaaaa1"), sensitive: false } } } },
    applyable: true,
    complete: true,
    errored: false,
  };
}

/** `depth` arrays nested in the plan's first change, as valid JSON text. */
export function deepPlanText(depth: number): string {
  const plan = hostilePlanJson("deep");
  const text = JSON.stringify(plan);
  return text.replace('"before":{"name":"staging-apps"}', `"before":{"name":"staging-apps","deep":${"[".repeat(depth)}${"]".repeat(depth)}}`);
}

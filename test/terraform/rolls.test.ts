/**
 * Reading the rolls of a plan from its amiroll_clusters output, and which cluster an address of
 * an amiroll stack belongs to.
 */
import { parsePlan } from "../../scripts/terraform/plan";
import { clusterOfAddress, clusterRolls } from "../../scripts/terraform/rolls";

const gen = (image: string, role = "current") => ({ role, image_id: image, asg_name: `c-${image}` });
const planOf = (change: { actions: string[]; before: unknown; after: unknown }, prior?: unknown) =>
  parsePlan(
    {
      format_version: "1.2",
      resource_changes: [],
      output_changes: { amiroll_clusters: change },
      ...(prior !== undefined && { prior_state: { values: { outputs: { amiroll_clusters: { value: prior, sensitive: false } } } } }),
    },
    "inline",
  );

describe("clusterRolls", () => {
  it("a first deploy: the output is created, so every cluster is new", () => {
    const rolls = clusterRolls(planOf({ actions: ["create"], before: null, after: { apps: { strategy: "replace", generations: [gen("ami-1")] } } }));
    expect(rolls).toEqual([{ cluster: "apps", strategy: "replace", before: [], after: [expect.objectContaining({ imageId: "ami-1" })], shape: "create" }]);
  });

  it("a cluster added to a deployed environment is new; one the state lists without generations is not", () => {
    const before = { apps: { generations: [gen("ami-1")] }, odd: { generations: [] } };
    const after = { apps: { generations: [gen("ami-1")] }, odd: { generations: [gen("ami-2")] }, web: { generations: [gen("ami-2")] } };
    const shapes = Object.fromEntries(clusterRolls(planOf({ actions: ["update"], before, after }))!.map((r) => [r.cluster, r.shape]));
    expect(shapes).toEqual({
      apps: "none",
      odd: { unknown: "it is deployed without any generation (the state's amiroll_clusters output lists none)" },
      web: "create",
    });
  });

  it("a new cluster the stack gives no capacity is no roll", () => {
    const rolls = clusterRolls(planOf({ actions: ["create"], before: null, after: { apps: { generations: [] } } }));
    expect(rolls![0].shape).toEqual({ unknown: "it is not deployed and the stack gives it no capacity" });
  });
});

describe("clusterOfAddress", () => {
  const clusters = ["apps", "web", "web-api"];

  it("reads the cluster from the name cdktf gives its resources (the construct path from the cluster's key)", () => {
    expect(clusterOfAddress("aws_ecs_cluster.apps_cluster_C01B8E10", clusters)).toBe("apps");
    expect(clusterOfAddress("aws_autoscaling_group.apps_generation_ami-0c8e1f5b2a9d47e31_asg_83F59A25", clusters)).toBe("apps");
    expect(clusterOfAddress("aws_iam_role.web-api_drain_hook_role_6B147C47", clusters)).toBe("web-api");
    expect(clusterOfAddress("aws_iam_role.web_drain_hook_role_6B147C47", clusters)).toBe("web");
  });

  it("the longest key wins, and nothing outside the clusters belongs to one", () => {
    expect(clusterOfAddress("aws_sqs_queue.web_api_queue_0A1B2C3D", ["web", "web_api"])).toBe("web_api");
    expect(clusterOfAddress("aws_s3_bucket.logs_0A1B2C3D", clusters)).toBeUndefined();
    expect(clusterOfAddress("aws_s3_bucket.apps", clusters)).toBeUndefined();
    expect(clusterOfAddress("module.apps.aws_ecs_cluster.apps_cluster_C01B8E10", clusters)).toBeUndefined();
  });
});

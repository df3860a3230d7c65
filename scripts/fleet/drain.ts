/**
 * Setting container instances DRAINING (ECS moves their service tasks elsewhere) or back to
 * ACTIVE: how a blue-green roll drains the old generation itself, and how it rolls back.
 */
import { type ECSClient, UpdateContainerInstancesStateCommand } from "@aws-sdk/client-ecs";

/** UpdateContainerInstancesState takes at most 10 container instances per call. */
const PER_CALL = 10;

export async function setContainerInstanceStatus(
  ecs: Pick<ECSClient, "send">,
  cluster: string,
  containerInstanceArns: readonly string[],
  status: "DRAINING" | "ACTIVE",
): Promise<void> {
  for (let i = 0; i < containerInstanceArns.length; i += PER_CALL) {
    const batch = containerInstanceArns.slice(i, i + PER_CALL);
    const { failures } = await ecs.send(new UpdateContainerInstancesStateCommand({ cluster, containerInstances: batch, status }));
    if (failures?.length) throw new Error(`ECS could not set ${failures.length} container instance(s) ${status}: ${failures.map((f) => `${f.arn} (${f.reason})`).join(", ")}`);
  }
}

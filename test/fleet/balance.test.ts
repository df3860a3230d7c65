/**
 * Balance as a pure function of small hand-built snapshots: each imbalance rule, daemons
 * skipped, a single-zone cluster, ties, placement strategies, ordering, and the text table.
 */
import { type BalanceService, balanceTable, instanceSpread, lostZonesText, serviceBalance } from "../../scripts/fleet/balance";
import type { ContainerInstanceSnapshot, FleetSnapshot, GroupSnapshot, TaskSnapshot } from "../../scripts/fleet/snapshot";

const A = "eu-west-1a";
const B = "eu-west-1b";
const C = "eu-west-1c";

const instance = (id: string, az: string, status = "ACTIVE"): ContainerInstanceSnapshot => ({
  arn: `arn:aws:ecs:eu-west-1:123456789012:container-instance/c/${id}`,
  ec2InstanceId: `i-${id}`,
  status,
  imageId: "ami-0123456789abcdef0",
  availabilityZone: az,
  runningTasksCount: 0,
  pendingTasksCount: 0,
  agentConnected: true,
});

const service = (name: string, extra: Partial<BalanceService> = {}): BalanceService => ({
  arn: `arn:aws:ecs:eu-west-1:123456789012:service/c/${name}`,
  name,
  desiredCount: 0,
  runningCount: 0,
  pendingCount: 0,
  schedulingStrategy: "REPLICA",
  deployments: [],
  events: [],
  tags: {},
  ...extra,
});

let taskSeq = 0;
/** A task of `group` (a service name, or `family:x`) on container instance `on`. */
const task = (group: string, on: ContainerInstanceSnapshot, extra: Partial<TaskSnapshot> = {}): TaskSnapshot => ({
  arn: `arn:aws:ecs:eu-west-1:123456789012:task/c/${++taskSeq}`,
  group: group.includes(":") ? group : `service:${group}`,
  containerInstanceArn: on.arn,
  availabilityZone: on.availabilityZone,
  lastStatus: "RUNNING",
  desiredStatus: "RUNNING",
  exitCodes: [],
  ...extra,
});

/** A task of `name` on each of `on`, in turn. */
const tasks = (name: string, ...on: ContainerInstanceSnapshot[]) => on.map((ci) => task(name, ci));

const snapshot = (parts: { instances: ContainerInstanceSnapshot[]; services: BalanceService[]; tasks: TaskSnapshot[]; groups?: GroupSnapshot[] }): FleetSnapshot => ({
  at: 1_000,
  clusterName: "c",
  groups: parts.groups ?? [],
  containerInstances: parts.instances,
  services: parts.services,
  tasks: parts.tasks,
  stoppedTasks: [],
  apiCalls: 0,
});

const [a1, a2, b1, b2, c1, c2, c3] = [instance("a1", A), instance("a2", A), instance("b1", B), instance("b2", B), instance("c1", C), instance("c2", C), instance("c3", C)];

const one = (snap: FleetSnapshot, name: string) => serviceBalance(snap).services.find((s) => s.service === name)!;
const kinds = (snap: FleetSnapshot, name: string) => one(snap, name).imbalances.map((i) => i.kind);

describe("serviceBalance", () => {
  it("counts a service's tasks per zone (every zone with ACTIVE instances, zero included) and per instance", () => {
    const snap = snapshot({ instances: [a1, a2, b1, b2, c1], services: [service("web")], tasks: tasks("web", b2, a2) });
    const web = one(snap, "web");
    expect(web.tasks).toBe(2);
    expect(web.perZone).toEqual([
      { availabilityZone: A, tasks: 1 },
      { availabilityZone: B, tasks: 1 },
      { availabilityZone: C, tasks: 0 },
    ]);
    expect(web.perInstance).toEqual([
      { containerInstanceArn: a2.arn, ec2InstanceId: "i-a2", availabilityZone: A, tasks: 1 },
      { containerInstanceArn: b2.arn, ec2InstanceId: "i-b2", availabilityZone: B, tasks: 1 },
    ]);
    expect(web).toMatchObject({ balanced: true, imbalances: [], checks: { zones: true, instances: true } });
  });

  it("single zone: 2 or more tasks all in one zone of a multi-zone cluster", () => {
    const snap = snapshot({ instances: [a1, a2, b1], services: [service("web")], tasks: tasks("web", a1, a2) });
    const web = one(snap, "web");
    expect(web.balanced).toBe(false);
    expect(web.imbalances).toEqual([
      { kind: "single-zone", detail: `all 2 tasks in ${A}` },
      { kind: "zone-spread", detail: `2/0 tasks over ${A}/${B} (max - min 2 > 1)` },
    ]);
  });

  it("zone spread: more than one task between the fullest and the emptiest zone; one is a tie, not an imbalance", () => {
    const instances = [a1, a2, b1, b2, c1, c2];
    const spread = (...on: ContainerInstanceSnapshot[]) => kinds(snapshot({ instances, services: [service("api")], tasks: tasks("api", ...on) }), "api");
    expect(spread(a1, b1)).toEqual([]); // 1/1/0
    expect(spread(a1, a2, b1)).toEqual(["zone-spread"]); // 2/1/0
    expect(spread(a1, a2, b1, c1)).toEqual([]); // 2/1/1
    expect(spread(a1, a2, b1, b2, c1)).toEqual([]); // 2/2/1
    expect(spread(a1, a2, a1, b1, c1)).toEqual(["zone-spread"]); // 3/1/1
    expect(spread(a1, a2, a1, b1, b2)).toEqual(["zone-spread"]); // 3/2/0
  });

  it("instance stacking: 2 tasks share an instance while another ACTIVE instance of that zone has none", () => {
    const instances = [a1, a2, b1, c1];
    expect(kinds(snapshot({ instances, services: [service("web")], tasks: tasks("web", a1, a1, b1, c1) }), "web")).toEqual(["instance-stacking"]);
    expect(one(snapshot({ instances, services: [service("web")], tasks: tasks("web", a1, a1, b1, c1) }), "web").imbalances[0].detail).toBe(
      `2 tasks on i-a1 (${A}) while i-a2 (${A}) has none`,
    );
    // The other instance of the zone is DRAINING: nowhere to go.
    const draining = instance("a2", A, "DRAINING");
    expect(kinds(snapshot({ instances: [a1, draining, b1, c1], services: [service("web")], tasks: tasks("web", a1, a1, b1, c1) }), "web")).toEqual([]);
  });

  it("instance stacking: an empty instance in another zone does not count (zone-then-instance spread leaves exactly that)", () => {
    // 2/2/2 over zones of 1, 1 and 3 instances: a1 and b1 must hold two each, c3 stays empty.
    const snap = snapshot({ instances: [a1, b1, c1, c2, c3], services: [service("api")], tasks: tasks("api", a1, a1, b1, b1, c1, c2) });
    expect(one(snap, "api")).toMatchObject({ balanced: true, imbalances: [] });
  });

  it("skips daemon services, standalone tasks and tasks on their way out; counts pending ones", () => {
    const snap = snapshot({
      instances: [a1, b1],
      services: [service("log-router", { schedulingStrategy: "DAEMON" }), service("web")],
      tasks: [
        ...tasks("log-router", a1, b1),
        task("family:backup", a1),
        task("family:backup", a1),
        task("web", a1),
        task("web", b1, { lastStatus: "PENDING" }),
        task("web", a1, { lastStatus: "STOPPING", desiredStatus: "STOPPED" }),
        task("web", a1, { lastStatus: "RUNNING", desiredStatus: "STOPPED" }),
      ],
    });
    const report = serviceBalance(snap);
    expect(report.services.map((s) => s.service)).toEqual(["web"]);
    expect(report.services[0].perZone).toEqual([
      { availabilityZone: A, tasks: 1 },
      { availabilityZone: B, tasks: 1 },
    ]);
    expect(report.balanced).toBe(true);
  });

  it("a single-zone cluster: no zone rule applies, the instance rule still does", () => {
    const instances = [a1, a2];
    expect(one(snapshot({ instances, services: [service("web")], tasks: tasks("web", a1, a2, a1) }), "web").balanced).toBe(true);
    expect(kinds(snapshot({ instances, services: [service("web")], tasks: tasks("web", a1, a1) }), "web")).toEqual(["instance-stacking"]);
    expect(serviceBalance(snapshot({ instances, services: [service("web")], tasks: [] })).zones).toEqual([A]);
  });

  it("names the subnets' zones with no ACTIVE instance as lost, and every service with tasks as absent there", () => {
    const snap = snapshot({ instances: [b1, c1], services: [service("web"), service("idle")], tasks: tasks("web", b1, c1) });
    const report = serviceBalance(snap, { zones: [A, B, C] });
    // The rules are judged over the zones that have instances: web is spread over them.
    expect(report.zones).toEqual([B, C]);
    expect(report.balanced).toBe(true);
    expect(report.lostZones).toEqual([A]);
    expect(report.withoutLostZones).toEqual(["web"]);
    expect(lostZonesText("apps", report)).toBe(`apps: ${A} has no instances (took no new ones): no task of web runs there`);
    // Without the subnets' zones, or with every one of them holding instances, nothing is lost.
    expect(serviceBalance(snap).lostZones).toEqual([]);
    expect(serviceBalance(snap, { zones: [B, C] }).lostZones).toEqual([]);
  });

  it("services with no task or one task are balanced", () => {
    const report = serviceBalance(snapshot({ instances: [a1, b1, c1], services: [service("idle"), service("admin")], tasks: tasks("admin", a1) }));
    expect(report.services.map((s) => [s.service, s.tasks, s.balanced])).toEqual([
      ["admin", 1, true],
      ["idle", 0, true],
    ]);
    expect(report.services[1].perZone.map((z) => z.tasks)).toEqual([0, 0, 0]);
  });

  it("judges over the zones with ACTIVE instances; a task on a draining instance elsewhere is listed, not judged", () => {
    const drainingC = instance("c9", C, "DRAINING");
    const snap = snapshot({ instances: [a1, b1, drainingC], services: [service("web")], tasks: tasks("web", a1, b1, drainingC) });
    const report = serviceBalance(snap);
    expect(report.zones).toEqual([A, B]);
    expect(report.services[0].perZone).toEqual([
      { availabilityZone: A, tasks: 1 },
      { availabilityZone: B, tasks: 1 },
      { availabilityZone: C, tasks: 1 },
    ]);
    expect(report.services[0].balanced).toBe(true);
  });

  it("reads the placement strategy when the snapshot records it: binpack is not judged, spread(zone)+binpack only by zone", () => {
    const binpack = [{ type: "binpack", field: "cpu" }];
    const zoneThenBinpack = [{ type: "spread", field: "attribute:ecs.availability-zone" }, { type: "binpack", field: "memory" }];
    const zoneThenInstance = [{ type: "spread", field: "attribute:ecs.availability-zone" }, { type: "spread", field: "instanceId" }];
    const snap = snapshot({
      instances: [a1, a2, b1],
      services: [
        service("worker", { placementStrategy: binpack }),
        service("batch", { placementStrategy: zoneThenBinpack }),
        service("packed-by-zone", { placementStrategy: zoneThenBinpack }),
        service("web", { placementStrategy: zoneThenInstance }),
      ],
      tasks: [...tasks("worker", a1, a1, a1), ...tasks("batch", a1, a1, b1), ...tasks("packed-by-zone", a1, a1), ...tasks("web", a1, a1, b1)],
    });
    const report = serviceBalance(snap);
    expect(report.services.map((s) => [s.service, s.checks, s.imbalances.map((i) => i.kind)])).toEqual([
      ["batch", { zones: true, instances: false }, []],
      ["packed-by-zone", { zones: true, instances: false }, ["single-zone", "zone-spread"]],
      ["web", { zones: true, instances: true }, ["instance-stacking"]],
      ["worker", { zones: false, instances: false }, []],
    ]);
    expect(report.imbalanced).toEqual(["packed-by-zone", "web"]);
  });

  it("orders services by name and zones by name, whatever the snapshot's order", () => {
    const snap = snapshot({
      instances: [c1, b1, a1],
      services: [service("web"), service("api"), service("search")],
      tasks: [...tasks("web", c1, c1), ...tasks("search", b1), ...tasks("api", a1, a1, a1)],
    });
    const report = serviceBalance(snap);
    expect(report.zones).toEqual([A, B, C]);
    expect(report.services.map((s) => s.service)).toEqual(["api", "search", "web"]);
    expect(report.imbalanced).toEqual(["api", "web"]);
    expect(report.services[2].perZone.map((z) => z.availabilityZone)).toEqual([A, B, C]);
    expect(report).toMatchObject({ at: 1_000, clusterName: "c", balanced: false });
    expect(serviceBalance(snap)).toEqual(report);
  });
});

describe("instanceSpread", () => {
  const group = (instances: [string, string][]): GroupSnapshot => ({
    name: "g",
    desiredCapacity: instances.length,
    minSize: 0,
    maxSize: 10,
    instances: instances.map(([az, state], i) => ({ instanceId: `i-g${i}`, availabilityZone: az, lifecycleState: state })),
    tags: {},
  });

  it("counts ACTIVE container instances per zone, zones of the groups and draining instances included at zero", () => {
    const spread = instanceSpread(
      snapshot({ instances: [a1, a2, instance("b9", B, "DRAINING")], services: [], tasks: [], groups: [group([[C, "Pending"], [A, "InService"], ["eu-west-1d", "Terminated"]])] }),
    );
    expect(spread).toEqual({
      zones: [
        { availabilityZone: A, active: 2 },
        { availabilityZone: B, active: 0 },
        { availabilityZone: C, active: 0 },
      ],
      balanced: false,
    });
  });

  it("is balanced within one instance", () => {
    expect(instanceSpread(snapshot({ instances: [a1, a2, b1, c1], services: [], tasks: [] })).balanced).toBe(true);
    expect(instanceSpread(snapshot({ instances: [a1, a2, b1, b2, c1], services: [], tasks: [] })).balanced).toBe(true);
    expect(instanceSpread(snapshot({ instances: [a1, c1, c2, c3], services: [], tasks: [] })).balanced).toBe(false);
    expect(instanceSpread(snapshot({ instances: [], services: [], tasks: [] }))).toEqual({ zones: [], balanced: true });
  });
});

describe("balanceTable", () => {
  it("renders a service per row: tasks per zone and the verdict", () => {
    const snap = snapshot({
      instances: [a1, a2, b1, c1],
      services: [service("web"), service("api"), service("worker", { placementStrategy: [{ type: "binpack", field: "cpu" }] })],
      tasks: [...tasks("web", a1, a2, b1, c1), ...tasks("api", a1, a2), ...tasks("worker", a1, a1)],
    });
    expect(balanceTable(serviceBalance(snap))).toEqual([
      "service  eu-west-1a  eu-west-1b  eu-west-1c  verdict",
      "api               2           0           0  imbalanced: all 2 tasks in eu-west-1a; 2/0/0 tasks over eu-west-1a/eu-west-1b/eu-west-1c (max - min 2 > 1)",
      "web               2           1           1  balanced",
      "worker            2           0           0  not judged (binpack)",
    ]);
  });
});

/**
 * Where a roll's makespan exceeds its critical path, per step: for each event the roll waits on,
 * the time from the moment it was possible (the simulated world's own record) to the moment the
 * driver, the drain hook or terraform's stand-in acted on it. bench:rollout prints one line per
 * replace / blue-green run. Read from the world's records and event log after the run, never by
 * the driver.
 */
import type { WaveReport } from "../scripts/rollout/rollout";
import type { World } from "../scripts/sim/world";

export interface Lag {
  /** What was waited on, and who reacted. */
  readonly what: string;
  /** Possible -> acted on (ms; negative: acted on before it, as a watch that ends on a partial view). */
  readonly ms: number;
}

/** "<ISO time> <message>" lines of the world's log matching `pattern`, as [time, match]. */
function logged(w: World, pattern: RegExp, from: number, to = Infinity): [number, RegExpExecArray][] {
  const out: [number, RegExpExecArray][] = [];
  for (const line of w.log) {
    const m = pattern.exec(line);
    if (!m) continue;
    const at = Date.parse(line.slice(0, line.indexOf(" ")));
    if (at >= from && at <= to) out.push([at, m]);
  }
  return out;
}

/**
 * The phases of a wave as spans of virtual time; consecutive phases of one step as one span (with
 * capacity providers, the services' move to the current generation's provider is an `apply` phase
 * of its own right before each apply).
 */
function spans(wave: WaveReport): { step: string; from: number; to: number }[] {
  let at = wave.startedAt;
  const out: { step: string; from: number; to: number }[] = [];
  for (const p of wave.phases) {
    const prev = out[out.length - 1];
    if (prev?.step === p.step && prev.to === at) prev.to = at + p.ms;
    else out.push({ step: p.step, from: at, to: at + p.ms });
    at += p.ms;
  }
  return out;
}

/**
 * The lags of one replace or blue-green wave (the bench's world: one cluster; every old instance
 * is on another image than `newImage`).
 */
export function waveLags(w: World, wave: WaveReport, newImage: string): Lag[] {
  const steps = spans(wave);
  const applies = steps.filter((s) => s.step === "apply");
  if (applies.length === 0) return [];
  const lags: Lag[] = [];
  const max = (values: number[]) => (values.length === 0 ? NaN : Math.max(...values));
  const instanceOf = (arn: string) => w.containerInstances.get(arn);
  /** The last stop (STOPPED, or told to stop with `told`) of a service task on an old instance told to stop in [from, to). */
  const lastStop = (from: number, to: number, told = false) =>
    max(
      [...w.tasks.values()]
        .filter((t) => t.serviceName && w.services.get(`${t.clusterName}/${t.serviceName}`)?.schedulingStrategy !== "DAEMON")
        .filter((t) => t.stoppingAt !== undefined && t.stoppingAt >= from && t.stoppingAt < to && t.stoppedAt !== undefined && instanceOf(t.containerInstanceArn)?.imageId !== newImage)
        .map((t) => (told ? t.stoppingAt! : t.stoppedAt!)),
    );
  const registeredIn = (from: number, to: number) => max([...w.containerInstances.values()].filter((ci) => ci.imageId === newImage && ci.registeredAt >= from && ci.registeredAt <= to).map((ci) => ci.registeredAt));
  const inServiceIn = (from: number, to: number) => max(logged(w, / (i-[0-9a-f]+) InService in /, from, to).map(([at]) => at));
  /** Per old instance released in [from, to]: release - its last task's stop; the largest. */
  const releaseLag = (from: number, to: number) => {
    const stoppedOn = new Map<string, number>();
    for (const t of w.tasks.values()) {
      const ec2 = instanceOf(t.containerInstanceArn)?.ec2InstanceId;
      if (!ec2 || t.stoppedAt === undefined || t.stoppedAt > to || !t.serviceName) continue;
      if (w.services.get(`${t.clusterName}/${t.serviceName}`)?.schedulingStrategy === "DAEMON") continue;
      stoppedOn.set(ec2, Math.max(stoppedOn.get(ec2) ?? -Infinity, t.stoppedAt));
    }
    const waiting = new Map(logged(w, / (i-[0-9a-f]+) Terminating:Wait/, from, to).map(([at, m]) => [m[1], at]));
    return max(logged(w, / (i-[0-9a-f]+) lifecycle action /, from, to).filter(([, m]) => stoppedOn.has(m[1])).map(([at, m]) => at - Math.max(waiting.get(m[1]) ?? from, stoppedOn.get(m[1])!)));
  };
  const lastTerminated = (from: number, to: number) => max(logged(w, / terminated$/, from, to).map(([at]) => at));
  const push = (what: string, ms: number) => {
    if (Number.isFinite(ms)) lags.push({ what, ms });
  };

  const last = applies[applies.length - 1];
  const canary = steps.find((s) => s.step === "canary");
  if (canary) {
    const first = applies[0];
    push("canary InService -> terraform's apply sees it", first.to - inServiceIn(first.from, first.to));
    const drained = logged(w, / (i-[0-9a-f]+) DRAINING$/, canary.from, canary.to)[0]?.[0];
    push("canary registered -> old instance drained (driver's poll)", drained - registeredIn(first.from, canary.to));
    push("last old task told to stop -> soak over (less the soak's 120 s)", canary.to - lastStop(canary.from, canary.to, true) - 120_000);
    const hooked = logged(w, / Terminating:Wait/, last.from, last.to)[0]?.[0];
    push("new group InService -> terraform deletes the old one", hooked - inServiceIn(last.from, last.to));
    push("an old instance's last task stopped -> its hook released (largest)", releaseLag(last.from, last.to));
    push("last old instance terminated -> terraform's apply sees it", last.to - lastTerminated(last.from, last.to));
    return lags;
  }
  const drain = steps.find((s) => s.step === "drain");
  const watch = steps.find((s) => s.step === "watch");
  const first = applies[0];
  push("new group InService -> terraform's apply sees it", first.to - inServiceIn(first.from, first.to));
  if (drain) push("last new instance registered -> old generation drained (driver's poll)", drain.to - registeredIn(first.from, drain.to));
  if (watch) push("last old task stopped -> watch done (driver's poll)", watch.to - lastStop(first.from, watch.to + 60_000));
  push("retire begun -> last hook released", max(logged(w, / lifecycle action /, last.from, last.to).map(([at]) => at)) - last.from);
  push("last old instance terminated -> terraform's apply sees it", last.to - lastTerminated(last.from, last.to));
  return lags;
}

export const lagsText = (lags: readonly Lag[]) => lags.map((l) => `${l.what} ${(l.ms / 1000).toFixed(1)} s`).join("; ");

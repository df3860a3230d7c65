/**
 * Maintenance windows for `amiroll rollout`: when a stage may start, written as text such as
 * `Tue 09:00-11:00 Europe/London`. Times are wall-clock times in the window's zone, so a window
 * follows daylight saving time. Pure: only Intl and Date, no date library, no current time.
 */

export interface MaintenanceWindow {
  /** The text as written, for messages. */
  readonly text: string;
  /** Days the window opens on, 0 = Sunday .. 6 = Saturday, sorted and unique. */
  readonly days: readonly number[];
  /** Local minutes after midnight the window opens at (0..1439). */
  readonly startMinutes: number;
  /** Local minutes after midnight it closes at (0..1440); at or before the start means the next day. */
  readonly endMinutes: number;
  /** An IANA time zone, as written. */
  readonly timeZone: string;
}

export interface Opening {
  readonly window: MaintenanceWindow;
  readonly opensAt: number;
  readonly closesAt: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

const SYNTAX = /^(\S+)\s+(\d{2}):(\d{2})-(\d{2}):(\d{2})\s+(\S+)$/;
const EXPECTED = 'expected "<days> HH:MM-HH:MM <time zone>" such as "Tue 09:00-11:00 Europe/London"';
const EXPECTED_DAYS = "expected a day Mon..Sun, a list such as Mon,Wed,Fri, a range such as Mon-Fri, or daily";

/** Parses one window; throws an Error with a one-line message that quotes the text. */
export function parseWindow(text: string): MaintenanceWindow {
  const quoted = JSON.stringify(text);
  const match = SYNTAX.exec(text.trim());
  if (!match) throw new Error(`${quoted}: ${EXPECTED}`);
  const [, daysText, startH, startM, endH, endM, timeZone] = match;

  const days = parseDays(daysText);
  if (!days) throw new Error(`${quoted}: unknown days "${daysText}" (${EXPECTED_DAYS})`);

  const startMinutes = minutes(startH, startM, false);
  if (startMinutes === undefined) {
    throw new Error(`${quoted}: ${startH}:${startM} is not a time (expected 00:00-23:59)`);
  }
  const endMinutes = minutes(endH, endM, true);
  if (endMinutes === undefined) {
    throw new Error(`${quoted}: ${endH}:${endM} is not a time (expected 00:00-23:59, or 24:00 as an end)`);
  }
  // 00:00-24:00 is a whole day; any other equal pair would be a window of no time (or of 24 h by accident).
  if (startMinutes === endMinutes % (24 * 60) && !(startMinutes === 0 && endMinutes === 24 * 60)) {
    throw new Error(`${quoted}: the window opens and closes at ${startH}:${startM}, so it is never open`);
  }

  if (!isTimeZone(timeZone)) throw new Error(`${quoted}: unknown time zone "${timeZone}"`);

  return { text, days, startMinutes, endMinutes, timeZone };
}

/** The problem with a window's text (the message parseWindow would throw), or undefined. */
export function windowProblem(text: string): string | undefined {
  try {
    parseWindow(text);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** `daily`, a day, a range (wrapping allowed) or a comma list of days and ranges; undefined when unreadable. */
function parseDays(text: string): number[] | undefined {
  if (text.toLowerCase() === "daily") return [0, 1, 2, 3, 4, 5, 6];
  const days = new Set<number>();
  for (const item of text.split(",")) {
    const ends = item.split("-");
    if (ends.length > 2) return undefined;
    const [first, last = first] = ends.map(dayNumber);
    if (first === undefined || last === undefined) return undefined;
    // Walk forward from the first day so Fri-Mon means Fri, Sat, Sun, Mon.
    for (let day = first; ; day = (day + 1) % 7) {
      days.add(day);
      if (day === last) break;
    }
  }
  return [...days].sort((a, b) => a - b);
}

function dayNumber(name: string): number | undefined {
  const index = DAY_NAMES.findIndex((day) => day.toLowerCase() === name.toLowerCase());
  return index < 0 ? undefined : index;
}

/** Minutes after midnight, or undefined when out of range; 24:00 only as an end. */
function minutes(hours: string, mins: string, isEnd: boolean): number | undefined {
  const h = Number(hours);
  const m = Number(mins);
  if (isEnd && h === 24 && m === 0) return 24 * 60;
  return h <= 23 && m <= 59 ? h * 60 + m : undefined;
}

function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone });
    return true;
  } catch (error) {
    if (error instanceof RangeError) return false;
    throw error;
  }
}

// ---- Wall-clock time in a zone ----------------------------------------------------------------

// Building a DateTimeFormat is slow next to using one, and openings ask for the same zones often.
const wallFormats = new Map<string, Intl.DateTimeFormat>();

function wallFormat(timeZone: string): Intl.DateTimeFormat {
  let format = wallFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    wallFormats.set(timeZone, format);
  }
  return format;
}

/**
 * The wall-clock reading of instant `ms` in `timeZone`, as if that reading were UTC: Date's
 * UTC getters then give the local year, month, day, weekday, hour and minute.
 */
function wallClock(ms: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const part of wallFormat(timeZone).formatToParts(ms)) parts[part.type] = Number(part.value);
  // Intl has whole seconds only; carry the milliseconds over unchanged.
  const wholeSecond = Math.floor(ms / 1000) * 1000;
  const reading = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour % 24, parts.minute, parts.second);
  return reading + (ms - wholeSecond);
}

/** The zone's offset from UTC at instant `ms`, in ms (BST is +1 h). */
function offsetAt(ms: number, timeZone: string): number {
  return wallClock(ms, timeZone) - ms;
}

/**
 * The instant a wall-clock reading (given as if UTC) happens in `timeZone`. A reading that
 * happens twice (the hour repeated when clocks go back) means the first; a reading that never
 * happens (the hour skipped when clocks go forward) means the first instant after the gap.
 */
function wallToInstant(reading: number, timeZone: string): number {
  // The offsets in force around the reading: a day either side spans any one transition.
  const offsets = new Set([reading - DAY, reading, reading + DAY].map((ms) => offsetAt(ms, timeZone)));
  // Each offset gives a candidate; it is right when the zone really has that offset then.
  const candidates = [...offsets].map((offset) => reading - offset).sort((a, b) => a - b);
  const valid = candidates.find((instant) => wallClock(instant, timeZone) === reading);
  if (valid !== undefined) return valid;

  // In a gap: the clock reads before `reading` at the earliest candidate and after it at the
  // latest. Find the first second whose reading is not before it: the end of the gap.
  let before = Math.floor(candidates[0] / 1000);
  let after = Math.ceil(candidates[candidates.length - 1] / 1000);
  while (after - before > 1) {
    const middle = Math.floor((before + after) / 2);
    if (wallClock(middle * 1000, timeZone) >= reading) after = middle;
    else before = middle;
  }
  return after * 1000;
}

// ---- Openings ----------------------------------------------------------------------------------

/**
 * A window's openings on the local days from the day before `now` to two weeks after it. The
 * day before, because a window crossing midnight may still be open; a week after, because a
 * weekly window's next opening may be seven days on; a second week, because that opening may
 * fall wholly in an hour the clocks skip.
 */
function openings(window: MaintenanceWindow, now: number): Opening[] {
  const local = wallClock(now, window.timeZone);
  const today = local - (((local % DAY) + DAY) % DAY);
  const result: Opening[] = [];
  for (let offset = -1; offset <= 14; offset++) {
    const day = today + offset * DAY;
    if (!window.days.includes(new Date(day).getUTCDay())) continue;
    const closeDay = window.endMinutes <= window.startMinutes ? day + DAY : day;
    const opensAt = wallToInstant(day + window.startMinutes * MINUTE, window.timeZone);
    const closesAt = wallToInstant(closeDay + window.endMinutes * MINUTE, window.timeZone);
    // A window that falls wholly in a skipped hour never opens that day.
    if (closesAt > opensAt) result.push({ window, opensAt, closesAt });
  }
  return result;
}

/** The window open at `now` and when that opening closes, or undefined. With several open, the one closing last. */
export function openWindow(windows: readonly MaintenanceWindow[], now: number): Opening | undefined {
  let best: Opening | undefined;
  for (const window of windows) {
    for (const opening of openings(window, now)) {
      const open = opening.opensAt <= now && now < opening.closesAt;
      if (open && (!best || opening.closesAt > best.closesAt)) best = opening;
    }
  }
  return best;
}

/**
 * The opening of any window that is open at `now` (as openWindow picks it), else the earliest
 * opening after `now`; undefined when `windows` is empty.
 */
export function nextOpening(windows: readonly MaintenanceWindow[], now: number): Opening | undefined {
  const open = openWindow(windows, now);
  if (open) return open;
  let best: Opening | undefined;
  for (const window of windows) {
    for (const opening of openings(window, now)) {
      if (opening.opensAt >= now && (!best || opening.opensAt < best.opensAt)) best = opening;
    }
  }
  return best;
}

// ---- Text --------------------------------------------------------------------------------------

// ICU's short zone names depend on the locale: en-US says "GMT+1" for London in summer where
// en-GB says "BST". Take the first locale with a real abbreviation rather than an offset.
const ZONE_NAME_LOCALES = ["en-US", "en-GB", "en-AU", "en-IN"];

function shortZoneName(ms: number, timeZone: string): string {
  let fallback: string | undefined;
  for (const locale of ZONE_NAME_LOCALES) {
    const parts = new Intl.DateTimeFormat(locale, { timeZone, timeZoneName: "short" }).formatToParts(ms);
    const name = parts.find((part) => part.type === "timeZoneName")?.value ?? "";
    if (!/^GMT[+-]/.test(name)) return name;
    fallback ??= name;
  }
  return fallback ?? "";
}

const pad = (n: number) => String(n).padStart(2, "0");

/** An instant as a person in `timeZone` reads it: `Tue 24 Nov 2026 09:00 GMT (Europe/London)`. */
export function formatInstant(ms: number, timeZone: string): string {
  const local = new Date(wallClock(ms, timeZone));
  const weekday = DAY_NAMES[local.getUTCDay()];
  const date = `${weekday} ${local.getUTCDate()} ${MONTH_NAMES[local.getUTCMonth()]} ${local.getUTCFullYear()}`;
  const time = `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}`;
  return `${date} ${time} ${shortZoneName(ms, timeZone)} (${timeZone})`;
}

/**
 * A wait as text: `45 min`, `2 h 5 min`, `1 d 23 h`. Rounded up to the minute, so a wait never
 * reads as 0 min before it is over; days drop the minutes.
 */
export function formatWait(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / MINUTE));
  const days = Math.floor(total / (24 * 60));
  const hours = Math.floor((total % (24 * 60)) / 60);
  const mins = total % 60;
  if (days > 0) return hours > 0 ? `${days} d ${hours} h` : `${days} d`;
  if (hours > 0) return mins > 0 ? `${hours} h ${mins} min` : `${hours} h`;
  return `${mins} min`;
}

/**
 * Maintenance windows as a user writes and meets them: each day form and each mistake, open
 * and closed around a window, daylight saving (both zones' winter and summer, the skipped and
 * the repeated hour), windows crossing midnight, several windows, and the text of instants and
 * waits. Every instant is fixed; nothing reads the clock.
 */
import {
  type MaintenanceWindow,
  formatInstant,
  formatWait,
  nextOpening,
  openWindow,
  parseWindow,
  windowProblem,
} from "../../scripts/config/windows";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** The next opening as ISO strings, for readable expectations. */
const next = (windows: MaintenanceWindow[], now: string) => {
  const opening = nextOpening(windows, at(now));
  return opening && { text: opening.window.text, opensAt: iso(opening.opensAt), closesAt: iso(opening.closesAt) };
};
const open = (windows: MaintenanceWindow[], now: string) => {
  const opening = openWindow(windows, at(now));
  return opening && { text: opening.window.text, opensAt: iso(opening.opensAt), closesAt: iso(opening.closesAt) };
};

const london = parseWindow("Tue 09:00-11:00 Europe/London");

describe("parseWindow", () => {
  it("reads a single day, times and zone", () => {
    expect(london).toEqual({
      text: "Tue 09:00-11:00 Europe/London",
      days: [2],
      startMinutes: 9 * 60,
      endMinutes: 11 * 60,
      timeZone: "Europe/London",
    });
  });

  it.each([
    ["tue", [2]],
    ["SUN", [0]],
    ["Mon,Wed,Fri", [1, 3, 5]],
    ["Fri,Mon,Fri", [1, 5]],
    ["Mon-Fri", [1, 2, 3, 4, 5]],
    ["Fri-Mon", [0, 1, 5, 6]],
    ["Sat-Sun", [0, 6]],
    ["daily", [0, 1, 2, 3, 4, 5, 6]],
    ["Daily", [0, 1, 2, 3, 4, 5, 6]],
  ])("reads days %s", (days, expected) => {
    expect(parseWindow(`${days} 09:00-11:00 UTC`).days).toEqual(expected);
  });

  it("allows 24:00 as an end and a window crossing midnight", () => {
    expect(parseWindow("Sat 22:00-24:00 UTC")).toMatchObject({ startMinutes: 22 * 60, endMinutes: 24 * 60 });
    expect(parseWindow("Sat 23:00-02:00 UTC")).toMatchObject({ startMinutes: 23 * 60, endMinutes: 2 * 60 });
    expect(parseWindow("daily 00:00-24:00 UTC")).toMatchObject({ startMinutes: 0, endMinutes: 24 * 60 });
  });

  it.each([
    ["Tue 9-11 London", 'expected "<days> HH:MM-HH:MM <time zone>" such as "Tue 09:00-11:00 Europe/London"'],
    ["Tue 09:00-11:00", "expected"],
    ["", "expected"],
    ["Tux 09:00-11:00 UTC", 'unknown days "Tux"'],
    ["Mon-Tue-Wed 09:00-11:00 UTC", 'unknown days "Mon-Tue-Wed"'],
    ["Mon,,Wed 09:00-11:00 UTC", 'unknown days "Mon,,Wed"'],
    ["Tue 25:00-26:00 UTC", "25:00 is not a time"],
    ["Tue 09:60-11:00 UTC", "09:60 is not a time"],
    ["Tue 24:00-02:00 UTC", "24:00 is not a time"],
    ["Tue 09:00-24:30 UTC", "24:30 is not a time"],
    ["Tue 09:00-09:00 UTC", "opens and closes at 09:00"],
    ["Tue 09:00-11:00 Europe/Londn", 'unknown time zone "Europe/Londn"'],
  ])("rejects %j naming the text", (text, problem) => {
    expect(() => parseWindow(text)).toThrow(`${JSON.stringify(text)}: `);
    expect(() => parseWindow(text)).toThrow(problem);
    expect(windowProblem(text)).toContain(problem);
    expect(windowProblem(text)).not.toContain("\n");
  });

  it("has no problem with a good window", () => {
    expect(windowProblem("Mon-Fri 22:00-02:00 America/New_York")).toBeUndefined();
  });
});

describe("openWindow", () => {
  it("is open from the start up to, not at, the end", () => {
    expect(openWindow([london], at("2026-11-24T08:59:59Z"))).toBeUndefined();
    expect(open([london], "2026-11-24T09:00:00Z")).toEqual({
      text: london.text,
      opensAt: "2026-11-24T09:00:00.000Z",
      closesAt: "2026-11-24T11:00:00.000Z",
    });
    expect(open([london], "2026-11-24T10:59:59Z")?.closesAt).toBe("2026-11-24T11:00:00.000Z");
    expect(openWindow([london], at("2026-11-24T11:00:00Z"))).toBeUndefined();
    expect(openWindow([london], at("2026-11-25T09:30:00Z"))).toBeUndefined();
  });

  it("follows British summer time: 09:00 London is 08:00Z in July", () => {
    expect(openWindow([london], at("2026-07-07T07:59:00Z"))).toBeUndefined();
    expect(open([london], "2026-07-07T08:00:00Z")?.closesAt).toBe("2026-07-07T10:00:00.000Z");
    expect(openWindow([london], at("2026-07-07T10:00:00Z"))).toBeUndefined();
  });

  it("follows New York time in winter and summer", () => {
    const newYork = parseWindow("Tue 09:00-11:00 America/New_York");
    expect(open([newYork], "2026-11-24T14:00:00Z")?.opensAt).toBe("2026-11-24T14:00:00.000Z");
    expect(openWindow([newYork], at("2026-11-24T13:59:00Z"))).toBeUndefined();
    expect(open([newYork], "2026-07-07T13:00:00Z")?.closesAt).toBe("2026-07-07T15:00:00.000Z");
    expect(openWindow([newYork], at("2026-07-07T12:59:00Z"))).toBeUndefined();
  });

  it("is open just after midnight in a window that crossed it", () => {
    const night = parseWindow("Sat 23:00-02:00 Europe/London");
    // Sunday 00:30 in London: the window opened on Saturday.
    expect(open([night], "2026-11-29T00:30:00Z")).toEqual({
      text: night.text,
      opensAt: "2026-11-28T23:00:00.000Z",
      closesAt: "2026-11-29T02:00:00.000Z",
    });
    expect(openWindow([night], at("2026-11-29T02:00:00Z"))).toBeUndefined();
    // It opens on Saturdays only: Sunday 23:30 is closed.
    expect(openWindow([night], at("2026-11-29T23:30:00Z"))).toBeUndefined();
  });

  it("picks the open window closing last", () => {
    const short = parseWindow("Tue 09:00-10:00 Europe/London");
    const long = parseWindow("Tue 08:00-12:00 Europe/London");
    expect(open([short, long, london], "2026-11-24T09:30:00Z")?.text).toBe(long.text);
  });

  it("is undefined with no windows", () => {
    expect(openWindow([], at("2026-11-24T09:30:00Z"))).toBeUndefined();
  });
});

describe("nextOpening", () => {
  it("from a Sunday is the following Tuesday", () => {
    expect(next([london], "2026-11-22T12:00:00Z")).toEqual({
      text: london.text,
      opensAt: "2026-11-24T09:00:00.000Z",
      closesAt: "2026-11-24T11:00:00.000Z",
    });
  });

  it("after this week's window is next week's, seven days on", () => {
    expect(next([london], "2026-11-24T11:00:00Z")?.opensAt).toBe("2026-12-01T09:00:00.000Z");
  });

  it("is the open window's opening while it is open", () => {
    expect(next([london], "2026-11-24T10:00:00Z")?.opensAt).toBe("2026-11-24T09:00:00.000Z");
  });

  it("at exactly the opening is that opening", () => {
    expect(next([london], "2026-11-24T09:00:00Z")?.opensAt).toBe("2026-11-24T09:00:00.000Z");
  });

  it("crosses a change of clocks: the Tuesday after British summer time ends opens an hour later in UTC", () => {
    // Tuesday 20 Oct is BST (08:00Z); Tuesday 27 Oct, after the 25 Oct change, is GMT (09:00Z).
    expect(next([london], "2026-10-20T08:00:00Z")?.opensAt).toBe("2026-10-20T08:00:00.000Z");
    expect(next([london], "2026-10-20T10:00:00Z")?.opensAt).toBe("2026-10-27T09:00:00.000Z");
  });

  it("with several windows, the earliest opening wins, whatever the order", () => {
    const thursday = parseWindow("Thu 09:00-11:00 Europe/London");
    const newYork = parseWindow("Tue 09:00-11:00 America/New_York");
    const windows = [thursday, newYork, london];
    expect(next(windows, "2026-11-22T12:00:00Z")?.text).toBe(london.text);
    expect(next(windows, "2026-11-24T11:30:00Z")?.text).toBe(newYork.text);
    expect(next(windows, "2026-11-24T16:00:00Z")).toMatchObject({
      text: thursday.text,
      opensAt: "2026-11-26T09:00:00.000Z",
    });
    expect(next([...windows].reverse(), "2026-11-24T16:00:00Z")?.text).toBe(thursday.text);
  });

  it("is undefined with no windows", () => {
    expect(nextOpening([], at("2026-11-24T09:30:00Z"))).toBeUndefined();
  });
});

describe("daylight saving edges", () => {
  it("a start in the skipped hour opens at the first instant after it", () => {
    // On 29 Mar 2026 London's clocks go from 01:00 GMT to 02:00 BST: 01:30 never happens.
    const gap = parseWindow("Sun 01:30-03:00 Europe/London");
    expect(next([gap], "2026-03-28T12:00:00Z")).toEqual({
      text: gap.text,
      opensAt: "2026-03-29T01:00:00.000Z", // 02:00 BST
      closesAt: "2026-03-29T02:00:00.000Z", // 03:00 BST
    });
    expect(openWindow([gap], at("2026-03-29T00:59:59Z"))).toBeUndefined();
    expect(openWindow([gap], at("2026-03-29T01:00:00Z"))).toBeDefined();
  });

  it("a window wholly inside the skipped hour does not open that day", () => {
    const lost = parseWindow("Sun 01:10-01:50 Europe/London");
    expect(next([lost], "2026-03-28T12:00:00Z")?.opensAt).toBe("2026-04-05T00:10:00.000Z");
  });

  it("a start in the repeated hour means its first occurrence (BST)", () => {
    // On 25 Oct 2026 London's clocks go from 02:00 BST back to 01:00 GMT: 01:30 happens twice.
    const twice = parseWindow("Sun 01:30-02:30 Europe/London");
    expect(next([twice], "2026-10-24T12:00:00Z")).toEqual({
      text: twice.text,
      opensAt: "2026-10-25T00:30:00.000Z", // 01:30 BST
      closesAt: "2026-10-25T02:30:00.000Z", // 02:30 GMT
    });
  });

  it("a window across the change of clocks lasts the real time between its wall-clock ends", () => {
    const across = parseWindow("Sun 01:00-03:00 Europe/London");
    const opening = nextOpening([across], at("2026-10-24T12:00:00Z"));
    expect(iso(opening?.opensAt)).toBe("2026-10-25T00:00:00.000Z"); // 01:00 BST
    expect(iso(opening?.closesAt)).toBe("2026-10-25T03:00:00.000Z"); // 03:00 GMT
    expect(opening && opening.closesAt - opening.opensAt).toBe(3 * 3_600_000);
  });

  it("New York's spring-forward gap (8 Mar 2026, 02:00 EST to 03:00 EDT)", () => {
    const gap = parseWindow("Sun 02:30-04:00 America/New_York");
    expect(next([gap], "2026-03-07T12:00:00Z")).toMatchObject({
      opensAt: "2026-03-08T07:00:00.000Z", // 03:00 EDT
      closesAt: "2026-03-08T08:00:00.000Z", // 04:00 EDT
    });
  });
});

describe("formatInstant", () => {
  it.each([
    ["2026-11-24T09:00:00Z", "Europe/London", "Tue 24 Nov 2026 09:00 GMT (Europe/London)"],
    ["2026-07-07T08:00:00Z", "Europe/London", "Tue 7 Jul 2026 09:00 BST (Europe/London)"],
    ["2026-11-24T14:00:00Z", "America/New_York", "Tue 24 Nov 2026 09:00 EST (America/New_York)"],
    ["2026-07-07T13:00:00Z", "America/New_York", "Tue 7 Jul 2026 09:00 EDT (America/New_York)"],
    // The local date may differ from the UTC date.
    ["2026-11-29T00:30:00Z", "America/New_York", "Sat 28 Nov 2026 19:30 EST (America/New_York)"],
    ["2026-11-24T23:30:00Z", "UTC", "Tue 24 Nov 2026 23:30 UTC (UTC)"],
  ])("%s in %s reads %s", (instant, timeZone, text) => {
    expect(formatInstant(at(instant), timeZone)).toBe(text);
  });
});

describe("formatWait", () => {
  it.each([
    [0, "0 min"],
    [30_000, "1 min"],
    [45 * 60_000, "45 min"],
    [60 * 60_000, "1 h"],
    [(2 * 60 + 5) * 60_000, "2 h 5 min"],
    [24 * 3_600_000, "1 d"],
    [(47 * 60 + 10) * 60_000, "1 d 23 h"],
    [-5_000, "0 min"],
  ])("%d ms is %s", (ms, text) => {
    expect(formatWait(ms)).toBe(text);
  });
});

import { formatDuration } from "../../scripts/core/duration";

describe("formatDuration", () => {
  it("writes durations as a user types them, largest unit first, no zero parts", () => {
    expect([3 * 3_600_000, 20 * 60_000, 90_000, 20_000, 1_500, 400].map(formatDuration)).toEqual(["3h", "20m", "1m30s", "20s", "1.5s", "400ms"]);
    expect([2 * 3_600_000 + 5 * 60_000, 3_600_000 + 1_000, 59_960, 60_400].map(formatDuration)).toEqual(["2h5m", "1h1s", "60s", "1m"]);
  });
});

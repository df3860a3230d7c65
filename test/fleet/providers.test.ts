import { type ClusterProviders, providerMoves } from "../../scripts/fleet/providers";

const OLD = "prod-apps-ami-0aaaaaaaaaaaaaaaa";
const NEW = "prod-apps-ami-0bbbbbbbbbbbbbbbb";
const managed = (p: string) => p.startsWith("prod-apps-ami-");

describe("providerMoves", () => {
  const state: ClusterProviders = {
    providers: [OLD, NEW],
    defaults: [{ capacityProvider: OLD, weight: 1, base: 0 }],
    services: [
      { name: "web", strategy: [{ capacityProvider: OLD, weight: 1, base: 2 }] },
      { name: "both", strategy: [{ capacityProvider: OLD, weight: 1 }, { capacityProvider: NEW, weight: 3 }] },
      { name: "moved", strategy: [{ capacityProvider: NEW, weight: 1 }] },
      { name: "ec2" },
      { name: "spot", strategy: [{ capacityProvider: OLD, weight: 1 }, { capacityProvider: "team-spot", weight: 1 }] },
    ],
  };

  it("moves the default and every service naming a leaving provider onto the target, keeping weights and bases, one entry per provider", () => {
    const moves = providerMoves(state, new Set([OLD]), NEW, managed);
    expect(moves.defaults).toEqual([{ capacityProvider: NEW, weight: 1, base: 0 }]);
    expect(moves.services).toEqual([
      { name: "web", strategy: [{ capacityProvider: NEW, weight: 1, base: 2 }] },
      { name: "both", strategy: [{ capacityProvider: NEW, weight: 1 }] },
      { name: "spot", strategy: [{ capacityProvider: NEW, weight: 1 }, { capacityProvider: "team-spot", weight: 1 }] },
    ]);
  });

  it("reports services naming a provider amiroll does not manage, whatever else they name", () => {
    expect(providerMoves(state, new Set([OLD]), NEW, managed).unmanaged).toEqual([{ service: "spot", providers: ["team-spot"] }]);
  });

  it("has nothing to move once everything names the target (a resumed run)", () => {
    const done: ClusterProviders = { providers: [NEW], defaults: [{ capacityProvider: NEW, weight: 1 }], services: [{ name: "web", strategy: [{ capacityProvider: NEW }] }] };
    expect(providerMoves(done, new Set(), NEW, managed)).toEqual({ services: [], unmanaged: [] });
  });
});

/**
 * Where `terraform init` gets hashicorp/aws from when amiroll runs terraform for real: the
 * discovery the tests use too (findPluginDir, test/support/terraform.ts), over a temporary tree.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AWS_PROVIDER_VERSION, holdsAwsProvider, providerPlatform, providerSource, providerSourceNotice } from "../../scripts/terraform/plugins";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "amiroll-plugins-"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A mirror as `terraform providers mirror` writes it, unpacked (the machines' /opt/tf-plugins) or packed. */
function mirror(name: string, layout: "unpacked" | "packed" = "unpacked", version = AWS_PROVIDER_VERSION): string {
  const provider = join(root, name, "registry.terraform.io", "hashicorp", "aws");
  if (layout === "unpacked") {
    const folder = join(provider, version, providerPlatform());
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, `terraform-provider-aws_v${version}_x5`), "");
  } else {
    mkdirSync(provider, { recursive: true });
    writeFileSync(join(provider, `terraform-provider-aws_${version}_${providerPlatform()}.zip`), "");
  }
  return join(root, name);
}

describe("providerSource (the real runner's default for init -plugin-dir)", () => {
  it("AMIROLL_TF_PLUGIN_DIR, as given, when set", () => {
    const found = mirror("found");
    expect(providerSource({ AMIROLL_TF_PLUGIN_DIR: "/somewhere/else" }, [found])).toEqual({ from: "AMIROLL_TF_PLUGIN_DIR", pluginDir: "/somewhere/else" });
  });

  it("else the first candidate that holds the provider, and says so", () => {
    const found = mirror("found");
    const source = providerSource({}, [join(root, "missing"), mirror("old", "unpacked", "5.99.0"), found]);
    expect(source).toEqual({ from: "mirror", pluginDir: found });
    expect(providerSourceNotice(source)).toBe(`using the local provider mirror at ${found} (set AMIROLL_TF_PLUGIN_DIR to choose another)`);
  });

  it("else the registry, as a plain terraform init (nothing to say)", () => {
    const source = providerSource({ AMIROLL_TF_PLUGIN_DIR: "" }, [join(root, "missing"), mirror("old", "unpacked", "5.99.0")]);
    expect(source).toEqual({ from: "registry" });
    expect(providerSourceNotice(source)).toBeUndefined();
    expect(providerSourceNotice({ from: "AMIROLL_TF_PLUGIN_DIR", pluginDir: "/x" })).toBeUndefined();
  });

  it("knows both mirror layouts", () => {
    expect(holdsAwsProvider(mirror("unpacked"))).toBe(true);
    expect(holdsAwsProvider(mirror("packed", "packed"))).toBe(true);
    expect(holdsAwsProvider(mirror("wrong-version", "packed", "5.99.0"))).toBe(false);
    expect(holdsAwsProvider(join(root, "missing"))).toBe(false);
  });
});

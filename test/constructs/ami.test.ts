import {
  ECS_OPTIMIZED_PARAMETERS,
  amiIdProblem,
  ecsOptimizedParameter,
  imageIdLeaf,
  instanceArchitecture,
  isAmiId,
  parameterArchitecture,
} from "../../constructs/ami";

describe("ECS-optimized SSM parameters", () => {
  it.each([
    ["amazon-linux-2023", "standard", "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended"],
    ["amazon-linux-2023", "arm64", "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended"],
    ["amazon-linux-2023", "gpu", "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended"],
    ["amazon-linux-2023", "neuron", "/aws/service/ecs/optimized-ami/amazon-linux-2023/inf/recommended"],
    ["amazon-linux-2", "standard", "/aws/service/ecs/optimized-ami/amazon-linux-2/recommended"],
    ["amazon-linux-2", "arm64", "/aws/service/ecs/optimized-ami/amazon-linux-2/arm64/recommended"],
    ["amazon-linux-2", "gpu", "/aws/service/ecs/optimized-ami/amazon-linux-2/gpu/recommended"],
    ["amazon-linux-2", "kernel-5.10", "/aws/service/ecs/optimized-ami/amazon-linux-2/kernel-5.10/recommended"],
  ] as const)("%s %s is %s", (os, variant, path) => {
    expect(ecsOptimizedParameter(os, variant)).toBe(path);
    expect(ecsOptimizedParameter(os, variant, "image_id")).toBe(`${path}/image_id`);
  });

  it("refuses a variant AWS does not publish", () => {
    expect(() => ecsOptimizedParameter("amazon-linux-2023", "kernel-5.10")).toThrow(/no "kernel-5.10" variant of amazon-linux-2023/);
  });

  it("names the common parameters and derives their image_id leaf", () => {
    expect(ECS_OPTIMIZED_PARAMETERS.al2023).toBe("/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended");
    expect(imageIdLeaf(ECS_OPTIMIZED_PARAMETERS.al2023Arm64)).toBe(
      "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id",
    );
    expect(imageIdLeaf("/mine/golden/image_id")).toBe("/mine/golden/image_id");
  });

  it("knows the architecture of the public parameters, not of private ones", () => {
    expect(parameterArchitecture(ECS_OPTIMIZED_PARAMETERS.al2023Arm64)).toBe("arm64");
    expect(parameterArchitecture(ECS_OPTIMIZED_PARAMETERS.al2023Gpu)).toBe("x86_64");
    expect(parameterArchitecture(ECS_OPTIMIZED_PARAMETERS.al2)).toBe("x86_64");
    expect(parameterArchitecture("/platform/golden-ami/latest")).toBe("unknown");
  });
});

describe("AMI ids", () => {
  it.each(["ami-12345678", "ami-0123456789abcdef0"])("accepts %s", (id) => {
    expect(isAmiId(id)).toBe(true);
    expect(amiIdProblem(id)).toBeUndefined();
  });

  it.each(["ami-1234567", "ami-0123456789ABCDEF0", "ami-0123456789abcdef", "ami-0123456789abcdefg", "AMI-12345678", " ami-12345678", "", 42, null])(
    "refuses %p",
    (id) => {
      expect(isAmiId(id)).toBe(false);
      expect(amiIdProblem(id)).toMatch(/is not an AMI id \(expected "ami-" and 8 or 17 lower-case hex digits\)/);
    },
  );
});

describe("instance architecture", () => {
  it.each([
    ["m7g.large", "arm64"],
    ["c6gn.xlarge", "arm64"],
    ["t4g.micro", "arm64"],
    ["x2gd.medium", "arm64"],
    ["g5g.xlarge", "arm64"],
    ["a1.large", "arm64"],
    ["m7i.large", "x86_64"],
    ["g4dn.xlarge", "x86_64"],
    ["c7a.2xlarge", "x86_64"],
    ["m7i-flex.large", "x86_64"],
  ])("%s is %s", (type, arch) => {
    expect(instanceArchitecture(type)).toBe(arch);
  });
});

/** The public surface of the amiroll construct library (the package's "." entry). */
export * from "./ami";
export * from "./capacity";
export * from "./drain-hook";
export * from "./ecs-cluster";
export * from "./errors";
export * from "./formats";
export * from "./refresh";
export * from "./environment-stack";
export * from "./app";

/**
 * The output an environment's stack writes for the driver (`terraform output -json`, and the
 * plan's output changes): per cluster, the ECS cluster and its capacity generations. Its own
 * module, so the plan guard can name it without loading cdktf.
 */
export const CLUSTERS_OUTPUT = "amiroll_clusters";

/** Runtime node ids are unique across clusters; event node ids (node1..3) are per cluster. */
export const runtimeNodeId = (clusterId: string, nodeId: string) => `${clusterId}--${nodeId}`;

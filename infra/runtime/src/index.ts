export * from './port.js';
export { createProcessRuntime, type ProcessRuntimeOptions } from './process/processRuntime.js';
export { livePostmaster, processesIn } from './process/postmaster.js';
export * from './nodeSetup.js';
export { createDockerRuntime, type DockerRuntimeOptions } from './docker/dockerRuntime.js';
export {
  createMultiHostRuntime,
  type MultiHostRuntimeOptions,
  type RuntimeDockerHost,
} from './docker/multiHost.js';
export { ensureNodeImage, nodeImageTag, type NodeImageOptions } from './docker/images.js';
export { ensureNodeImageStore, type NodeImageStoreOptions } from './docker/imageStore.js';
export { startPodmanService, type PodmanService, type PodmanServiceOptions } from './docker/podman.js';
export {
  dockerHosts,
  localPodmanDir,
  RuntimeSelectionError,
  runtimeKind,
  type DockerHost,
  type RuntimeKind,
} from './dockerHosts.js';
export { createGateways, createNodeRuntime, type NodeRuntimeOptions } from './selectRuntime.js';

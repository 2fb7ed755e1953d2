/** The provisioning service's aggregates (its pure language); the service itself runs from `main.ts`. */
export { clusterDecider, type ClusterCommand, type RecordCommand } from './domain/cluster.js';
export { namesDecider, type NamesCommand, type NamesState } from './domain/names.js';

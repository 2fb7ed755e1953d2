export { up, type Platform } from './platform/up.js';
export { startApiServer } from './http/server.js';
export { openApiDocument } from './http/openapi.js';
export { apiClient, CliError } from './cli/client.js';

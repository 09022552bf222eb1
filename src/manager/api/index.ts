/** The HTTP control API (Docker Engine API v1.47 subset). */
export { createApiServer, type ApiServer } from './server.js';
export { API_VERSION, type ApiServerOptions } from './options.js';
export { ApiError } from './errors.js';

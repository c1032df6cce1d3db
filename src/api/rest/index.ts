export { createRestGateway, type RestGateway, type RestGatewayOptions } from './gateway.js';
export { deriveRoutes, createRouter, type RestRoute, type RouteMatch } from './routes.js';
export { decodeJson, encodeJson, jsonRegistry } from './json.js';

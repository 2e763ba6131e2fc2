export { startGateway, type RunningGateway } from './server.js';
export { loadConfig, type GatewayConfig } from './config.js';
export { signDevToken } from './middleware/auth.js';
export { composeSupergraph, checkSupergraph } from './supergraph/compose.js';

export {
  createGrpcServer,
  grpcMethodTable,
  healthHandlers,
  type BeforeCallInfo,
  type GrpcServer,
  type GrpcServerOptions,
} from './server.js';
export {
  createHealthReporter,
  type HealthReporter,
  type ServingStatus,
  monitorReadiness,
  type ReadinessMonitor,
  type ReadinessOptions,
  type SettableHealthReporter,
} from './health.js';

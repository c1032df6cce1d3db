export { describeStoreConformance, uniqueTenantId, type StoreFactoryResult } from './describe-store-conformance.js';

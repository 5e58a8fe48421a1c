/**
 * @module
 * Run coordination and cluster-wide limits on Redis: what several instances sharing one
 * PostgreSQL and one Redis need besides the event log. Phase 2 wires these into the run
 * manager and the transport.
 */
export { openClusterCoordinator, createInstanceId } from './coordinator.js';
export type { ClusterCoordinator, ClusterCoordinatorOptions } from './coordinator.js';
export type { Lease, RunLeases } from './leases.js';
export type { OrphanedRun } from './sweeper.js';
export { createClusterSlots, createClusterTokenBuckets } from './clusterLimits.js';
export type { ClusterSlotCounter, ClusterTokenBuckets } from './clusterLimits.js';

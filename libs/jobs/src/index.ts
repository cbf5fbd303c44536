export { MAINTENANCE_JOBS, MAINTENANCE_QUEUE } from './maintenance-jobs.js';
export type { MaintenanceJobData, MaintenanceJobName } from './maintenance-jobs.js';

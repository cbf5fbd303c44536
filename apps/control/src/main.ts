// Entry point of the control plane (operator API and maintenance worker). Configuration and
// telemetry come first; the application is imported after tracing started.
import { loadConfigOrExit } from '@sscontrol/config';
import { startTelemetry } from '@sscontrol/telemetry';

const config = loadConfigOrExit({ service: 'control' });
const telemetry = startTelemetry(config);
const { runService } = await import('@sscontrol/audit');
const { bootstrapControl } = await import('./control.bootstrap.js');
await runService('control', telemetry, () => bootstrapControl(config, telemetry));

// Entry point of the signaling gateway. Configuration and telemetry come first; the application
// is imported only after tracing started, so that its modules are instrumented.
import { loadConfigOrExit } from '@sscontrol/config';
import { startTelemetry } from '@sscontrol/telemetry';

const config = loadConfigOrExit({ service: 'signaling' });
const telemetry = startTelemetry(config);
const { runService } = await import('@sscontrol/audit');
const { bootstrapSignaling } = await import('./signaling.bootstrap.js');
await runService('signaling', telemetry, () => bootstrapSignaling(config, telemetry));

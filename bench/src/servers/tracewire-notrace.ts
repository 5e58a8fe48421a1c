/** Tracewire with tracing off: the same server with the OpenTelemetry SDK disabled. */
process.env['OTEL_SDK_DISABLED'] = 'true';
await import('./tracewire.js');

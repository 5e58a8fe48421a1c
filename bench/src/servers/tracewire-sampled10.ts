/** Tracewire tracing 10% of traces (head sampling on the root, children follow their parent). */
process.env['OTEL_TRACES_SAMPLER'] = 'parentbased_traceidratio';
process.env['OTEL_TRACES_SAMPLER_ARG'] = '0.1';
await import('./tracewire.js');

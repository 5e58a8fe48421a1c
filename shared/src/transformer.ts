import superjson from 'superjson';

/** The wire transformer. Every link and the server must use this same instance's rules. */
export const transformer = superjson;

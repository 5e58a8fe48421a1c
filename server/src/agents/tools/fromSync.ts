/** Runs synchronous tool work as a promise, so a throw becomes a rejection (tools are async by contract). */
export function fromSync<T>(fn: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(fn()));
}

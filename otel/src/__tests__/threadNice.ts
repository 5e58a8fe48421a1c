/** Linux test helper: the nice value of each of this process's threads. */
import { readFileSync, readdirSync } from 'node:fs';

/** Nice values of every thread of this process (`/proc/self/task/<tid>/stat`, field 19). */
export function niceOfThreads(): number[] {
  return readdirSync('/proc/self/task').flatMap((tid) => {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      return []; // a thread that ended since the listing (another test's worker)
    }
    // Fields after the parenthesised name (which may hold spaces); nice is the 17th of them.
    return [Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
  });
}

/** How many threads of this process run at `nice`. */
export const threadsAtNice = (nice: number): number =>
  niceOfThreads().filter((n) => n === nice).length;

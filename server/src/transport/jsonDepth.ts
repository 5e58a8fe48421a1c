/**
 * True when the JSON text nests arrays/objects deeper than `max`. One linear scan with no
 * allocation, run before `JSON.parse` so a hostile frame such as `[[[[…` (hundreds of
 * thousands deep within `maxPayload`) never reaches the parser, superjson or zod.
 * Brackets inside strings are skipped; malformed JSON is left for the parser to reject.
 */
export function exceedsJsonDepth(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \\ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > max) return true;
    } else if (c === 93 /* ] */ || c === 125 /* } */) depth--;
  }
  return false;
}

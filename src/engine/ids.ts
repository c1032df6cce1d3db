/**
 * Byte-wise (UTF-8) ordering of ids, the order of every engine result list. UTF-8 byte order equals Unicode
 * code point order; JavaScript's `<` compares UTF-16 code units, which differs only when a surrogate pair is
 * compared with a BMP character at or above U+E000, so only that case needs correcting.
 */
export function compareIds(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      const xs = x <= 0xdfff;
      const ys = y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** Sorts ids in place byte-wise and returns the array. */
export function sortIds(ids: string[]): string[] {
  // Without surrogates, UTF-16 order is code point order: the engine's native comparison is much faster.
  for (const id of ids) {
    for (let i = 0; i < id.length; i++) if (id.charCodeAt(i) >= 0xd800) return ids.sort(compareIds);
  }
  return ids.sort();
}

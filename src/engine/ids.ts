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

function hasSurrogates(ids: readonly string[]): boolean {
  for (const id of ids) {
    for (let i = 0; i < id.length; i++) if (id.charCodeAt(i) >= 0xd800) return true;
  }
  return false;
}

const nativeLess = (a: string, b: string): boolean => a < b;
const byteLess = (a: string, b: string): boolean => compareIds(a, b) < 0;

/**
 * Rearranges `a[left..right]` so that `a[k]` holds the element of that rank and everything before it in the
 * range is smaller, everything after it larger (ids are distinct). Iterative quickselect, median-of-three pivot.
 */
function select(a: string[], left: number, right: number, k: number, less: (x: string, y: string) => boolean): void {
  const swap = (i: number, j: number): void => {
    const t = a[i] as string;
    a[i] = a[j] as string;
    a[j] = t;
  };
  while (right > left) {
    const mid = (left + right) >>> 1;
    if (less(a[mid] as string, a[left] as string)) swap(mid, left);
    if (less(a[right] as string, a[left] as string)) swap(right, left);
    if (less(a[right] as string, a[mid] as string)) swap(right, mid);
    const pivot = a[mid] as string;
    let i = left;
    let j = right;
    while (i <= j) {
      while (less(a[i] as string, pivot)) i++;
      while (less(pivot, a[j] as string)) j--;
      if (i <= j) swap(i++, j--);
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return;
  }
}

/**
 * Distinct ids in byte-wise order, sorted only as far as they are read: `at(i)` sorts the next chunk (twice the
 * previous one) of the smallest remaining ids when `i` runs past the sorted prefix. A lookup that needs the
 * first page of a large candidate set pays a linear selection and a small sort instead of sorting everything;
 * reading all of it still costs O(n log n).
 */
export class LazySortedIds {
  private readonly ids: string[];
  private readonly less: (a: string, b: string) => boolean;
  private readonly surrogates: boolean;
  private sorted = 0;
  private chunk: number;

  /** Takes ownership of `ids` (distinct); keeps only those at or above `from` when it is given. */
  constructor(ids: string[], firstChunk: number, from?: string) {
    this.surrogates = hasSurrogates(ids) || (from !== undefined && hasSurrogates([from]));
    this.less = this.surrogates ? byteLess : nativeLess;
    this.ids = from === undefined ? ids : ids.filter((id) => !this.less(id, from));
    this.chunk = Math.max(1, Math.floor(firstChunk));
  }

  get length(): number {
    return this.ids.length;
  }

  /** The id of rank `i` (0-based), or undefined past the end. */
  at(i: number): string | undefined {
    if (i < 0 || i >= this.ids.length) return undefined;
    while (i >= this.sorted) this.sortNext();
    return this.ids[i];
  }

  /**
   * The rank of the first id at or above `from` (`length` when none): sorts forward only until the sorted
   * prefix reaches `from`, so a continuation page pays for the ids before it once, amortised over its pages.
   */
  lowerBound(from: string): number {
    const { ids } = this;
    while (this.sorted < ids.length && (this.sorted === 0 || compareIds(ids[this.sorted - 1] as string, from) < 0)) {
      this.sortNext();
    }
    let lo = 0;
    let hi = this.sorted;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareIds(ids[mid] as string, from) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private sortNext(): void {
    const { ids } = this;
    const lo = this.sorted;
    const hi = Math.min(ids.length, lo + this.chunk);
    this.chunk *= 2;
    if (hi < ids.length) select(ids, lo, ids.length - 1, hi, this.less);
    const part = ids.slice(lo, hi);
    if (this.surrogates) part.sort(compareIds);
    else part.sort();
    for (let i = 0; i < part.length; i++) ids[lo + i] = part[i] as string;
    this.sorted = hi;
  }
}

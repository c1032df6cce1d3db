/**
 * Building blocks of the in-memory tables: string interning, columnar row storage in typed arrays and hash
 * indexes that chain rows through a per-row `next` array. No JS object is allocated per row: a row is a
 * number, its fields live in typed-array columns (`Int32Array`, or `Float64Array` for transaction ids, which
 * must not wrap at 2^31), and every index costs 4 bytes per row plus a few bytes
 * per distinct key. Rows are append-only (only the `expired` column is ever updated in place) until a
 * compaction rebuilds everything, so a chain lists its rows in ascending insertion order.
 */

/** Maps strings to dense small integers and back. */
export class Interner {
  private readonly ids = new Map<string, number>();
  readonly strings: string[] = [];

  /** The id of `s`, creating it if needed. */
  intern(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(s);
      this.ids.set(s, id);
    }
    return id;
  }

  /** The id of `s`, or -1 when `s` was never interned (so nothing stored can match it). */
  lookup(s: string): number {
    return this.ids.get(s) ?? -1;
  }

  get(id: number): string {
    return this.strings[id] as string;
  }
}

/** Grows an Int32Array to at least `min` elements by doubling, keeping its contents. */
export function growInt32(a: Int32Array<ArrayBuffer>, min: number, fill = 0): Int32Array<ArrayBuffer> {
  if (a.length >= min) return a;
  let size = Math.max(16, a.length);
  while (size < min) size *= 2;
  const b = new Int32Array(size);
  b.set(a);
  if (fill !== 0) b.fill(fill, a.length);
  return b;
}

/** Grows a Float64Array to at least `min` elements by doubling, keeping its contents. */
export function growFloat64(a: Float64Array<ArrayBuffer>, min: number): Float64Array<ArrayBuffer> {
  if (a.length >= min) return a;
  let size = Math.max(16, a.length);
  while (size < min) size *= 2;
  const b = new Float64Array(size);
  b.set(a);
  return b;
}

/** An append-only list of int32 values in a growable typed array. */
export class IntList {
  data = new Int32Array(0);
  length = 0;

  push(v: number): void {
    if (this.length === this.data.length) this.data = growInt32(this.data, this.length + 1);
    this.data[this.length++] = v;
  }
}

/**
 * Columnar rows: `cols[c][row]`. Column arrays are replaced (not mutated in size) when the table grows.
 * Columns are `Int32Array` except those named in `float64Columns`, which hold values beyond int32 (exact up
 * to 2^53).
 */
export class Columns {
  readonly cols: (Int32Array<ArrayBuffer> | Float64Array<ArrayBuffer>)[];
  length = 0;
  capacity = 0;

  constructor(columnCount: number, float64Columns: readonly number[] = []) {
    this.cols = Array.from({ length: columnCount }, (_, c) =>
      float64Columns.includes(c) ? new Float64Array(0) : new Int32Array(0),
    );
  }

  /** Makes room for one more row and returns its number (the caller fills every column). */
  appendRow(): number {
    if (this.length === this.capacity) {
      const capacity = Math.max(16, this.capacity * 2);
      for (let c = 0; c < this.cols.length; c += 1) {
        const col = this.cols[c] as Int32Array<ArrayBuffer> | Float64Array<ArrayBuffer>;
        this.cols[c] = col instanceof Float64Array ? growFloat64(col, capacity) : growInt32(col, capacity);
      }
      this.capacity = capacity;
    }
    return this.length++;
  }
}

/** `capacity` empty slots of a {@link ChainIndex}: head -1, tail and hash 0. */
function emptySlots(capacity: number): Int32Array<ArrayBuffer> {
  const slots = new Int32Array(3 * capacity);
  for (let i = 0; i < slots.length; i += 3) slots[i] = -1;
  return slots;
}

function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x9e3779b1);
  return h ^ (h >>> 15);
}

/** murmur3's 32-bit finaliser: spreads every input bit over the low bits used as the slot number. */
function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * A hash index from a key of several columns to the chain of rows having that key, in insertion order.
 * Open addressing with linear probing; a slot stores the first and last row of its chain and the full hash of
 * its key, side by side in one array (`slots[3i]` head, `slots[3i+1]` tail, `slots[3i+2]` hash), so a probe
 * reads one cache line rather than one per array. The key is read from the first row's columns (no key copies
 * are stored), and only when the hashes agree.
 */
export class ChainIndex {
  /** Three int32 per slot: head row (-1 = empty), tail row, hash. Length = 3 × a power of two. */
  private slots = emptySlots(16);
  private capacity = 16;
  private used = 0;
  /** next[row] = the following row of the same key, or -1. */
  next = new Int32Array(0);

  /** Rows per chain, by slot (only when built with `counted`): for few-keyed indexes, whose chains are long. */
  private counts: Int32Array | undefined;

  constructor(
    private readonly table: Columns,
    private readonly fields: readonly number[],
    counted = false,
  ) {
    if (counted) this.counts = new Int32Array(this.capacity);
  }

  /** Rows in the chain of `key` (0 when absent); only for an index built with `counted`. */
  count(key: ArrayLike<number>): number {
    if (this.counts === undefined) throw new Error('ChainIndex.count on an index without counts');
    const i = this.find(key);
    return i < 0 ? 0 : (this.counts[i] as number);
  }

  /** Number of distinct keys. */
  get keyCount(): number {
    return this.used;
  }

  private hashRow(row: number): number {
    let h = 0x811c9dc5;
    for (const f of this.fields) h = mix(h, (this.table.cols[f] as Int32Array)[row] as number);
    return finish(h);
  }

  private hashKey(key: ArrayLike<number>): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < this.fields.length; i += 1) h = mix(h, key[i] as number);
    return finish(h);
  }

  private rowMatches(row: number, key: ArrayLike<number>): boolean {
    const cols = this.table.cols;
    const fields = this.fields;
    for (let i = 0; i < fields.length; i += 1) {
      if ((cols[fields[i] as number] as Int32Array)[row] !== key[i]) return false;
    }
    return true;
  }

  private rowsMatch(a: number, b: number): boolean {
    const cols = this.table.cols;
    for (const f of this.fields) {
      const col = cols[f] as Int32Array;
      if (col[a] !== col[b]) return false;
    }
    return true;
  }

  /** The slot holding `key` (whose hash is `h`), or the empty slot where it would go. */
  private slotOf(key: ArrayLike<number>, h: number): number {
    const slots = this.slots;
    const mask = this.capacity - 1;
    let i = h & mask;
    for (;;) {
      const head = slots[3 * i] as number;
      if (head < 0 || (slots[3 * i + 2] === h && this.rowMatches(head, key))) return i;
      i = (i + 1) & mask;
    }
  }

  /** Slot number of `key` (values in field order), or -1. */
  private find(key: ArrayLike<number>): number {
    const i = this.slotOf(key, this.hashKey(key));
    return (this.slots[3 * i] as number) < 0 ? -1 : i;
  }

  /** First row of the chain of `key` (values in field order; extra values ignored), or -1. */
  first(key: ArrayLike<number>): number {
    const i = this.find(key);
    return i < 0 ? -1 : (this.slots[3 * i] as number);
  }

  /** Last row of the chain of `key`, or -1. */
  last(key: ArrayLike<number>): number {
    const i = this.find(key);
    return i < 0 ? -1 : (this.slots[3 * i + 1] as number);
  }

  /**
   * Looks `key` up for a following {@link addProbed}: returns its chain's last row, or -1 (no such key). The
   * slot and hash are kept, so a writer that inserts when the key is absent (or its last row is expired)
   * hashes and probes once instead of twice. Any other change to the index in between voids the probe.
   */
  probe(key: ArrayLike<number>): number {
    const h = this.hashKey(key);
    const i = this.slotOf(key, h);
    this.probedSlot = i;
    this.probedHash = h;
    return (this.slots[3 * i] as number) < 0 ? -1 : (this.slots[3 * i + 1] as number);
  }

  private probedSlot = -1;
  private probedHash = 0;

  /** Appends `row`, whose key is the one just given to {@link probe}, to the end of its chain. */
  addProbed(row: number): void {
    const i = this.probedSlot;
    if (i < 0) throw new Error('ChainIndex.addProbed without a probe');
    this.probedSlot = -1;
    this.link(row, i, this.probedHash);
  }

  /** Appends `row` (whose key columns are filled) to the end of its chain. */
  add(row: number): void {
    const slots = this.slots;
    const mask = this.capacity - 1;
    const h = this.hashRow(row);
    let i = h & mask;
    for (;;) {
      const head = slots[3 * i] as number;
      if (head < 0 || (slots[3 * i + 2] === h && this.rowsMatch(head, row))) break;
      i = (i + 1) & mask;
    }
    this.link(row, i, h);
  }

  /** Puts `row` at the end of the chain in slot `i` (an empty slot starts a new chain with hash `h`). */
  private link(row: number, i: number, h: number): void {
    this.probedSlot = -1;
    if (this.next.length <= row) this.next = growInt32(this.next, this.table.capacity, -1);
    this.next[row] = -1;
    const slots = this.slots;
    const head = slots[3 * i] as number;
    if (head >= 0) {
      this.next[slots[3 * i + 1] as number] = row;
      slots[3 * i + 1] = row;
      if (this.counts !== undefined) this.counts[i] = (this.counts[i] as number) + 1;
      return;
    }
    slots[3 * i] = row;
    slots[3 * i + 1] = row;
    slots[3 * i + 2] = h;
    if (this.counts !== undefined) this.counts[i] = 1;
    this.used += 1;
    if (this.used * 2 > this.capacity) this.rehash(this.capacity * 2);
  }

  private rehash(size: number): void {
    const old = this.slots;
    const oldCounts = this.counts;
    const oldCapacity = this.capacity;
    const slots = emptySlots(size);
    const counts = oldCounts === undefined ? undefined : new Int32Array(size);
    const mask = size - 1;
    for (let j = 0; j < oldCapacity; j += 1) {
      const head = old[3 * j] as number;
      if (head < 0) continue;
      const h = old[3 * j + 2] as number;
      let i = h & mask;
      while ((slots[3 * i] as number) >= 0) i = (i + 1) & mask;
      slots[3 * i] = head;
      slots[3 * i + 1] = old[3 * j + 1] as number;
      slots[3 * i + 2] = h;
      if (counts !== undefined) counts[i] = oldCounts?.[j] as number;
    }
    this.slots = slots;
    this.counts = counts;
    this.capacity = size;
  }

  /** Approximate bytes held by this index (for measurements). */
  get byteSize(): number {
    return this.slots.byteLength + this.next.byteLength + (this.counts?.byteLength ?? 0);
  }
}

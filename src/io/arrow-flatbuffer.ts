/**
 * Bounds of an Arrow IPC flatbuffer (Message, Footer) before apache-arrow decodes it: its decoders loop over every vector
 * length they find (a corrupt length of 2^31 field nodes fills the heap) and follow table
 * offsets without limit (a cycle recurses forever). This walks the same tables (Message, Footer,
 * Schema, Field, RecordBatch, KeyValue) checking every offset, vector and string against the
 * buffer, the nesting depth of fields, and the number of tables visited. Failures are plain
 * Errors; the caller turns them into UserErrors that name the file and the message.
 */
export class FlatbufferCheck {
  private readonly view: DataView;
  private tables = 0;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private fail(why: string): never {
    throw new Error(`metadata ${why}`);
  }
  private u32(at: number): number {
    if (at < 0 || at + 4 > this.bytes.byteLength) this.fail(`offset ${at} out of range`);
    return this.view.getUint32(at, true);
  }
  /** Absolute position of field `slot` of the table at `table`, 0 when absent. */
  private field(table: number, slot: number): number {
    if (++this.tables > 4 * this.bytes.byteLength) this.fail('has more tables than bytes (a cycle)');
    const vtable = table - this.view.getInt32(this.check(table, 4), true);
    const vtableLength = this.view.getUint16(this.check(vtable, 4), true);
    const entry = 4 + 2 * slot;
    if (entry + 2 > vtableLength) return 0;
    const offset = this.view.getUint16(this.check(vtable + entry, 2), true);
    return offset === 0 ? 0 : this.check(table + offset, 1);
  }
  private check(at: number, length: number): number {
    if (at < 0 || at + length > this.bytes.byteLength) this.fail(`offset ${at} out of range`);
    return at;
  }
  /** The table a field points to, or 0. */
  private table(table: number, slot: number): number {
    const f = this.field(table, slot);
    return f === 0 ? 0 : this.check(f + this.u32(f), 4);
  }
  /** Element count and start of a vector field (elements of `size` bytes), checked to fit. */
  private vector(table: number, slot: number, size: number): { count: number; start: number } {
    const f = this.field(table, slot);
    if (f === 0) return { count: 0, start: 0 };
    const at = f + this.u32(f);
    const count = this.u32(at);
    if (count * size > this.bytes.byteLength - at - 4) this.fail(`vector of ${count} elements does not fit`);
    return { count, start: at + 4 };
  }
  private tableVector(table: number, slot: number, each: (t: number) => void): void {
    const { count, start } = this.vector(table, slot, 4);
    for (let k = 0; k < count; k++) {
      const at = start + 4 * k;
      each(this.check(at + this.u32(at), 4));
    }
  }
  private keyValues(table: number, slot: number): void {
    this.tableVector(table, slot, (kv) => {
      this.vector(kv, 0, 1);
      this.vector(kv, 1, 1);
    });
  }
  private fieldTable(field: number, depth: number): void {
    if (depth > 64) this.fail('fields nested more than 64 deep');
    this.vector(field, 0, 1); // name
    this.table(field, 3); // type (its scalars are read as such)
    const dictionary = this.table(field, 4);
    if (dictionary) this.table(dictionary, 1); // index type
    this.tableVector(field, 5, (child) => this.fieldTable(child, depth + 1));
    this.keyValues(field, 6);
  }
  schema(schema: number): void {
    this.tableVector(schema, 1, (field) => this.fieldTable(field, 0));
    this.keyValues(schema, 2);
    this.vector(schema, 3, 8);
  }
  private recordBatch(batch: number): void {
    this.vector(batch, 1, 16);
    this.vector(batch, 2, 16);
    this.table(batch, 3);
    this.vector(batch, 4, 8);
  }
  message(): void {
    const root = this.check(this.u32(0), 4);
    const type = this.field(root, 1);
    const headerType = type === 0 ? 0 : this.bytes[type];
    const header = this.table(root, 2);
    if (header && headerType === 1) this.schema(header);
    else if (header && headerType === 2) {
      const data = this.table(header, 1);
      if (data) this.recordBatch(data);
    } else if (header && headerType === 3) this.recordBatch(header);
    this.keyValues(root, 4);
  }
  footer(): void {
    const root = this.check(this.u32(0), 4);
    const schema = this.table(root, 1);
    if (schema) this.schema(schema);
    this.vector(root, 2, 24);
    this.vector(root, 3, 24);
    this.keyValues(root, 4);
  }
}

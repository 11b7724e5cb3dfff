/**
 * Exact widening of 16-bit floats (IEEE half and bfloat16) to float32. Every half and bfloat16
 * value is representable in float32, so the conversion works on bit patterns and loses nothing
 * (NaN payloads included).
 */

/** float32 bit pattern of every half-precision bit pattern; built on first use (256 KiB). */
let halfTable: Uint32Array | undefined;

function buildHalfTable(): Uint32Array {
  const table = new Uint32Array(65536);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      // zero or subnormal: mant × 2^-24 is exact in float32 (a normal number there)
      f32[0] = mant * 2 ** -24;
      table[h] = (sign | u32[0]) >>> 0;
    } else if (exp === 31) {
      table[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0; // ±Inf, or NaN keeping its payload
    } else {
      table[h] = (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
    }
  }
  return table;
}

/** Widen IEEE binary16 bit patterns to float32. */
export function halfToFloat32(bits: Uint16Array): Float32Array {
  const table = (halfTable ??= buildHalfTable());
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return new Float32Array(out.buffer);
}

/** Widen bfloat16 bit patterns (the top half of a float32) to float32. */
export function bfloat16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

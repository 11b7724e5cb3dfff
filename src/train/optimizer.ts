/**
 * AdamW with PyTorch's semantics (torch.optim.AdamW, Loshchilov & Hutter 2019): decoupled weight
 * decay applied to the parameter before the moment update, bias-corrected moments, eps added to
 * the corrected square root. Parameters, gradients and moments are typed arrays of one kind
 * (float32 for training, float64 for exact tests); the update runs element by element in float64.
 *
 *   p ← p·(1 − lr·wd)
 *   m ← β1·m + (1 − β1)·g            v ← β2·v + (1 − β2)·g²
 *   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps)
 */
export type Floats = Float32Array | Float64Array;

export interface AdamWParameter {
  name: string;
  value: Floats;
  grad: Floats;
  /** Decoupled weight decay for this tensor (0 for biases and LayerNorm with HF's Trainer rule). */
  weightDecay: number;
}

export interface AdamWOptions {
  betas?: [number, number];
  eps?: number;
}

/** What an exact resume needs: the step count and both moments of every tensor, by name. */
export interface AdamWState {
  step: number;
  moments: Map<string, { m: Floats; v: Floats }>;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  private state: AdamWState = { step: 0, moments: new Map() };

  constructor(private readonly params: readonly AdamWParameter[], options: AdamWOptions = {}) {
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    for (const p of params) {
      const make = () => (p.value instanceof Float64Array ? new Float64Array(p.value.length) : new Float32Array(p.value.length));
      this.state.moments.set(p.name, { m: make(), v: make() });
    }
  }

  get step(): number {
    return this.state.step;
  }

  /** One update of every parameter from its `grad`, at learning rate `lr`. */
  update(lr: number): void {
    const t = ++this.state.step;
    const { beta1: b1, beta2: b2, eps } = this;
    const stepSize = lr / (1 - b1 ** t);
    const correction2 = Math.sqrt(1 - b2 ** t);
    for (const p of this.params) {
      const { m, v } = this.state.moments.get(p.name)!;
      const x = p.value, g = p.grad, decay = 1 - lr * p.weightDecay;
      for (let i = 0; i < x.length; i++) {
        const gi = g[i];
        // Read the moments back after storing them: in float32 the stored value is what PyTorch keeps.
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        x[i] = x[i] * decay;
        x[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / correction2 + eps);
      }
    }
  }

  exportState(): AdamWState {
    return this.state;
  }

  /** Restore a saved state; every tensor's moments must be there with the right size. */
  importState(state: AdamWState): void {
    for (const p of this.params) {
      const s = state.moments.get(p.name);
      if (!s || s.m.length !== p.value.length || s.v.length !== p.value.length) {
        throw new Error(`AdamW state: no moments of the right size for ${p.name}`);
      }
    }
    this.state = state;
  }
}

/**
 * Scale every gradient so that their joint L2 norm is at most `maxNorm`, as
 * torch.nn.utils.clip_grad_norm_ does (coefficient maxNorm / (norm + 1e-6), clamped to 1).
 * Returns the norm before clipping. The sum of squares is accumulated in float64.
 */
export function clipGradNorm(grads: readonly Floats[], maxNorm: number): number {
  let sum = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sum += g[i] * g[i];
  const norm = Math.sqrt(sum);
  const coefficient = Math.min(1, maxNorm / (norm + 1e-6));
  if (coefficient < 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= coefficient;
  return norm;
}

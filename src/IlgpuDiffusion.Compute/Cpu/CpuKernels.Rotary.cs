using System.Runtime.Intrinsics;
using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cpu;

// Rotary position embedding (rotate-half over the whole head) on q and k, in place, and its inverse.
public sealed unsafe partial class CpuKernels
{
    private readonly RotaryJob _rotary = new();

    /// <inheritdoc/>
    public void RotaryForward(Tensor<float> qkv, Tensor<float> cos, Tensor<float> sin,
        int batch, int tokens, int heads, int headDim, int positionOffset) =>
        Rotate(qkv, cos, sin, batch, tokens, heads, headDim, positionOffset, 1f);

    /// <inheritdoc/>
    public void RotaryBackward(Tensor<float> dQkv, Tensor<float> cos, Tensor<float> sin,
        int batch, int tokens, int heads, int headDim, int positionOffset) =>
        Rotate(dQkv, cos, sin, batch, tokens, heads, headDim, positionOffset, -1f);

    // The backward of a rotation is the rotation by −θ: the same kernel with sin negated.
    private void Rotate(Tensor<float> qkv, Tensor<float> cos, Tensor<float> sin,
        int batch, int tokens, int heads, int headDim, int positionOffset, float direction)
    {
        OpChecks.Rotary(qkv, cos, sin, batch, tokens, heads, headDim, positionOffset);
        var job = _rotary;
        job.Qkv = qkv.Pointer();
        job.Cos = cos.Pointer() + (long)positionOffset * (headDim / 2);
        job.Sin = sin.Pointer() + (long)positionOffset * (headDim / 2);
        (job.Tokens, job.Heads, job.HeadDim, job.Direction) = (tokens, heads, headDim, direction);
        job.Run(_pool, batch * tokens, Math.Max(1, RowGrain / (2 * heads * headDim)));
    }

    /// <summary>
    /// One work item per (batch, token) row: for q and k of every head, with c = cos θ, s = direction·sin θ,
    /// u[j] ← u[j]·c − u[j+d/2]·s, u[j+d/2] ← u[j]·s + u[j+d/2]·c.
    /// </summary>
    private sealed class RotaryJob : ChunkedJob
    {
        public float* Qkv, Cos, Sin;
        public int Tokens, Heads, HeadDim;
        public float Direction;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            int half = HeadDim / 2;
            for (int row = start; row < end; row++)
            {
                int t = row % Tokens;
                float* cos = Cos + (long)t * half, sin = Sin + (long)t * half;
                float* qk = Qkv + (long)row * 3 * Heads * HeadDim;
                // q and k of all heads are the first 2·H·d floats of the row: 2·H head vectors.
                for (int u = 0; u < 2 * Heads; u++) RotateHead(qk + (long)u * HeadDim, cos, sin, half, Direction);
            }
        }

        private static void RotateHead(float* x, float* cos, float* sin, int half, float direction)
        {
            float* y = x + half;
            int j = 0;
            if (Vector512.IsHardwareAccelerated)
                for (Vector512<float> sign = Vector512.Create(direction); j + 16 <= half; j += 16)
                {
                    Vector512<float> a = Vector512.Load(x + j), b = Vector512.Load(y + j);
                    Vector512<float> c = Vector512.Load(cos + j), s = Vector512.Load(sin + j) * sign;
                    (a * c - b * s).Store(x + j);
                    (a * s + b * c).Store(y + j);
                }
            if (Vector256.IsHardwareAccelerated)
                for (Vector256<float> sign = Vector256.Create(direction); j + 8 <= half; j += 8)
                {
                    Vector256<float> a = Vector256.Load(x + j), b = Vector256.Load(y + j);
                    Vector256<float> c = Vector256.Load(cos + j), s = Vector256.Load(sin + j) * sign;
                    (a * c - b * s).Store(x + j);
                    (a * s + b * c).Store(y + j);
                }
            for (; j < half; j++)
            {
                float a = x[j], b = y[j], c = cos[j], s = sin[j] * direction;
                x[j] = a * c - b * s;
                y[j] = a * s + b * c;
            }
        }
    }
}

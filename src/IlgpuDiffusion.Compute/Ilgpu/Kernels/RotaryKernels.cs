using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// Rotary embedding in place on q and k of qkv [batch, tokens, 3, heads, headDim] (rotate-half over the
/// whole head) with tables [positions, headDim/2]. Backward is the rotation by −θ: the same kernel with
/// the sine negated (<c>direction</c> = −1).
/// </summary>
internal static class RotaryKernels
{
    /// <summary>
    /// One thread per (batch·token, slot ∈ {q, k}, head, j &lt; headDim/2): with c = cos θ, s = direction·sin θ
    /// at position positionOffset + t, u[j] ← u[j]·c − u[j+d/2]·s and u[j+d/2] ← u[j]·s + u[j+d/2]·c.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void Rotate(Index1D i, ArrayView<float> qkv, ArrayView<float> cos, ArrayView<float> sin,
        int tokens, int heads, int headDim, int positionOffset, float direction)
    {
        int half = headDim / 2;
        int perRow = 2 * heads * half; // q and k of every head: the first 2·H·d floats of a token's row
        int row = i / perRow, rest = i - row * perRow;
        int vector = rest / half, j = rest - vector * half;
        int table = (positionOffset + row % tokens) * half + j;
        float c = cos[table], s = sin[table] * direction;
        int x = row * 3 * heads * headDim + vector * headDim + j;
        float a = qkv[x], b = qkv[x + half];
        qkv[x] = a * c - b * s;
        qkv[x + half] = a * s + b * c;
    }
}

using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// Where one attention launch finds its operands. Queries [batch, Queries, heads, HeadDim] are read at
/// b·QBatchStride + i·QRowStride + h·HeadDim; keys and values at b·KvBatchStride + h·KvHeadStride + j·KvRowStride
/// (the packed qkv for full attention, the [batch, heads, capacity, headDim] cache for decoding). Query i sits at
/// position FirstPosition + i; with Causal ≠ 0 it sees keys j ≤ FirstPosition + i, otherwise all Keys. The backward passes
/// add their gradients to dqkv when AccumulateGradients ≠ 0, else write them over it. VectorRows ≠ 0 says every head
/// row of q, k and v (and, in a backward, dO) starts on 16 bytes (the views do, and every stride and HeadDim are
/// multiples of 4): the tensor-core kernels then stage whole tiles with 16-byte loads. QAddress, KAddress, VAddress,
/// OutputGradientAddress, LogSumExpAddress, RowDotAddress and ScoreGradientAddress are the global addresses of the first
/// elements of q, k, v, dO, the log-sum-exps, D = rowsum(dO ∘ O) and the backward's dSᵀ scratch where a kernel copies
/// tiles with cp.async (<see cref="TensorCoreAttentionBf16Kernels.ForwardPipelined"/>,
/// <see cref="TensorCoreAttentionBf16BackwardKernels.KeyValuePipelined"/>,
/// <see cref="TensorCoreAttentionBf16BackwardKernels.QueryPipelined"/>; ILGPU cannot take a view's address in a kernel),
/// else 0.
/// </summary>
internal readonly record struct AttentionArguments(
    int Heads, int HeadDim, int Queries, int Keys, int FirstPosition, int Causal, float Scale,
    int QBatchStride, int QRowStride, int KvBatchStride, int KvHeadStride, int KvRowStride,
    int TileQ, int TileK, int WriteLogSumExp, int AccumulateGradients, int VectorRows = 0, long QAddress = 0,
    long KAddress = 0, long VAddress = 0, long OutputGradientAddress = 0, long LogSumExpAddress = 0, long RowDotAddress = 0,
    long ScoreGradientAddress = 0)
{
    /// <summary>True when query i may attend to key j.</summary>
    public bool Visible(int i, int j) => i < Queries && j < Keys && (Causal == 0 || j <= FirstPosition + i);
}

/// <summary>
/// Flash-attention forward (online softmax; the [T, T] matrix never exists), the KV-cache append, and the
/// backward's row statistic D = rowsum(dO ∘ O). One group per (query tile, batch·head) walks the key tiles
/// (causal: only up to the tile's last visible key) keeping O, the running max m and sum l in shared memory;
/// every element has one owner thread and a fixed summation order, so results repeat bit for bit.
/// </summary>
internal static class AttentionKernels
{
    /// <summary>
    /// output [batch, Queries, heads, d] = softmax(Scale·q·kᵀ)·v; logSumExp [batch, heads, Queries] (when
    /// WriteLogSumExp ≠ 0) = log Σ_j exp(Scale·q·k_j). Grid (⌈Queries/TileQ⌉, batch·heads); shared <see cref="AttentionPass.Forward"/>.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Forward(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> output,
        ArrayView<float> logSumExp, AttentionArguments a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int d = a.HeadDim, stride = d + 1, tileQ = a.TileQ, tileK = a.TileK;
        int bh = Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, q0 = Grid.IdxX * tileQ;
        int oBase = tileQ * stride, kBase = 2 * oBase, vBase = kBase + tileK * stride, sBase = vBase + tileK * stride;
        int mBase = sBase + tileQ * tileK, lBase = mBase + tileQ, cBase = lBase + tileQ;
        int tid = Group.IdxX, threads = Group.DimX;

        LoadRows(shared, 0, stride, q, b * a.QBatchStride + h * d, a.QRowStride, q0, tileQ, a.Queries, d);
        ZeroRows(shared, oBase, stride, tileQ, d);
        for (int r = tid; r < tileQ; r += threads)
        {
            shared[mBase + r] = float.NegativeInfinity;
            shared[lBase + r] = 0f;
        }
        int kv = b * a.KvBatchStride + h * a.KvHeadStride;
        int lastQuery = XMin(q0 + tileQ, a.Queries) - 1;
        int keyEnd = a.Causal != 0 ? XMin(a.Keys, a.FirstPosition + lastQuery + 1) : a.Keys;
        for (int k0 = 0; k0 < keyEnd; k0 += tileK)
        {
            LoadRows(shared, kBase, stride, k, kv, a.KvRowStride, k0, tileK, a.Keys, d);
            LoadRows(shared, vBase, stride, v, kv, a.KvRowStride, k0, tileK, a.Keys, d);
            Group.Barrier();
            // S[r, c] = Scale·q_r·k_c, −∞ where not visible
            for (int e = tid; e < tileQ * tileK; e += threads)
            {
                int r = e / tileK, c = e - r * tileK;
                shared[sBase + e] = a.Visible(q0 + r, k0 + c)
                    ? a.Scale * Dot(shared, r * stride, kBase + c * stride, d) : float.NegativeInfinity;
            }
            Group.Barrier();
            // online softmax: new max, P = exp(S − max) in place, l rescaled by exp(m_old − m_new)
            for (int r = tid; r < tileQ; r += threads)
            {
                int row = sBase + r * tileK;
                float previous = shared[mBase + r], max = previous;
                for (int c = 0; c < tileK; c++) max = XMax(max, shared[row + c]);
                float correction = 1f, sum = 0f;
                if (max == float.NegativeInfinity)
                {
                    for (int c = 0; c < tileK; c++) shared[row + c] = 0f;
                }
                else
                {
                    correction = MathF.Exp(previous - max);
                    for (int c = 0; c < tileK; c++)
                    {
                        float p = MathF.Exp(shared[row + c] - max);
                        shared[row + c] = p;
                        sum += p;
                    }
                }
                shared[mBase + r] = max;
                shared[lBase + r] = shared[lBase + r] * correction + sum;
                shared[cBase + r] = correction;
            }
            Group.Barrier();
            // O[r, col] = O[r, col]·correction_r + Σ_c P[r, c]·V[c, col]
            for (int e = tid; e < tileQ * d; e += threads)
            {
                int r = e / d, col = e - r * d, row = sBase + r * tileK;
                float acc = shared[oBase + r * stride + col] * shared[cBase + r];
                for (int c = 0; c < tileK; c++) acc += shared[row + c] * shared[vBase + c * stride + col];
                shared[oBase + r * stride + col] = acc;
            }
            Group.Barrier();
        }
        for (int e = tid; e < tileQ * d; e += threads)
        {
            int r = e / d, col = e - r * d, i = q0 + r;
            if (i < a.Queries) output[((b * a.Queries + i) * a.Heads + h) * d + col] = shared[oBase + r * stride + col] / shared[lBase + r];
        }
        if (a.WriteLogSumExp == 0) return;
        for (int r = tid; r < tileQ; r += threads)
            if (q0 + r < a.Queries) logSumExp[bh * a.Queries + q0 + r] = shared[mBase + r] + MathF.Log(shared[lBase + r]);
    }

    /// <summary>
    /// kCache[b, h, position + t] = k[b, t, h] and the same for v, from qkv [batch, newTokens, 3, heads, d];
    /// one thread per (b, t, h, col).
    /// </summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void AppendToCache(Index1D i, ArrayView<float> qkv, ArrayView<float> kCache, ArrayView<float> vCache,
        int newTokens, int heads, int headDim, int position, int capacity)
    {
        int col = i % headDim, rest = i / headDim;
        int h = rest % heads, bt = rest / heads, t = bt % newTokens, b = bt / newTokens;
        int source = (bt * 3 + 1) * heads * headDim + h * headDim + col;
        int slot = ((b * heads + h) * capacity + position + t) * headDim + col;
        kCache[slot] = qkv[source];
        vCache[slot] = qkv[source + heads * headDim];
    }

    /// <summary>rowDot[b, h, t] = Σ_col dOutput[b, t, h, col]·output[b, t, h, col]; one thread per row.</summary>
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void RowDot(Index1D i, ArrayView<float> dOutput, ArrayView<float> output, ArrayView<float> rowDot,
        int tokens, int heads, int headDim)
    {
        int t = i % tokens, bh = i / tokens, h = bh % heads, b = bh / heads;
        int start = ((b * tokens + t) * heads + h) * headDim;
        float sum = 0f;
        for (int col = 0; col < headDim; col++) sum += dOutput[start + col] * output[start + col];
        rowDot[i] = sum;
    }

    /// <summary>
    /// Stages rows first .. first+count of a head (row r at source[start + (first + r)·rowStride + col]) as
    /// shared[offset + r·stride + col], zeros past <paramref name="limit"/>. No barrier.
    /// </summary>
    public static void LoadRows(ArrayView<float> shared, int offset, int stride, ArrayView<float> source, int start, int rowStride,
        int first, int count, int limit, int d)
    {
        for (int e = Group.IdxX; e < count * d; e += Group.DimX)
        {
            int r = e / d, col = e - r * d;
            shared[offset + r * stride + col] = first + r < limit ? source[start + (first + r) * rowStride + col] : 0f;
        }
    }

    /// <summary>Σ_col shared[x + col]·shared[y + col] over d columns.</summary>
    public static float Dot(ArrayView<float> shared, int x, int y, int d)
    {
        float sum = 0f;
        for (int col = 0; col < d; col++) sum += shared[x + col] * shared[y + col];
        return sum;
    }

    /// <summary>Zeroes rows [0, count) of a padded shared block. No barrier.</summary>
    public static void ZeroRows(ArrayView<float> shared, int offset, int stride, int count, int d)
    {
        for (int e = Group.IdxX; e < count * d; e += Group.DimX) shared[offset + e / d * stride + e % d] = 0f;
    }

    public static int XMin(int x, int y) => x < y ? x : y;

    private static float XMax(float x, float y) => x > y ? x : y;
}
